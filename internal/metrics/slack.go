package metrics

import (
	"net/http"
	"path"
	"regexp"
	"strconv"
)

// webAPIMethod matches the name of a Slack Web API method, like
// "chat.postMessage" or "apps.connections.open".
var webAPIMethod = regexp.MustCompile(`^[a-z]+(\.[a-zA-Z]+)+$`)

// otherMethod is the method label of requests that are not Web API calls,
// such as the upload of a file's contents to its upload_url.
const otherMethod = "other"

// InstrumentSlack returns a RoundTripper that sends requests with next
// (http.DefaultTransport if nil) and counts each in
// cvmlogin_slack_api_calls_total, and each 429 answer in
// cvmlogin_slack_api_rate_limited_total, by the Web API method named by the
// last element of the URL path. Give slack-go an *http.Client using it with
// slack.OptionHTTPClient, before slack.OptionRetryConfig, so that every retry
// slack-go makes is a request counted here.
func (m *Metrics) InstrumentSlack(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &slackTransport{next: next, m: m}
}

type slackTransport struct {
	next http.RoundTripper
	m    *Metrics
}

func (t *slackTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	method := slackMethod(req.URL.Path)
	resp, err := t.next.RoundTrip(req)
	status := "error"
	if err == nil {
		status = strconv.Itoa(resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests {
			t.m.slackRateLimited.WithLabelValues(method).Inc()
		}
	}
	t.m.slackCalls.WithLabelValues(method, status).Inc()
	return resp, err
}

// slackMethod returns the Web API method a request path calls, like
// "chat.update" for "/api/chat.update", or "other"; the label stays bounded
// whatever the path.
func slackMethod(urlPath string) string {
	if m := path.Base(urlPath); webAPIMethod.MatchString(m) {
		return m
	}
	return otherMethod
}
