package slackfake

// FailStatus makes the next times calls of method answer the HTTP status
// (500, 502, 503...) with a plain-text body, as a Slack outage or a proxy in
// front of it would, whatever the call would otherwise have done. Faults of
// one method apply in the order they were set.
func (s *Server) FailStatus(method string, status, times int) {
	s.addFault(method, &fault{remaining: times, status: status})
}
