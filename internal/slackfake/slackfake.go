// Package slackfake is a fake Slack for tests: a real HTTP server on
// 127.0.0.1 that speaks the part of the Slack Web API cvmlogin uses, and Socket
// Mode over a real WebSocket.
//
// New starts a Server for one test and stops it when the test ends. Point a
// slack-go client at it with Server.Client, or with
// slack.New(BotToken, slack.OptionAPIURL(s.URL())). The server records every
// call (Calls), keeps the latest state of every message (Messages), every
// shared file (Files) and every modal (Views), and fails on demand (RateLimit, Fail, FailAfterEffect,
// FailGroup). Opt in to Slack's rate limits with EnforceLimits. Its
// Socket Mode side lets a test push envelopes to a connected client
// (SendEnvelope), read back the client's acknowledgements (Acks) and cut the
// connection (DropConnection).
//
// Modals: every slash command and interaction the fake sends carries a
// trigger_id it made (Trigger for requests a test sends itself), which
// views.open accepts once, within three seconds, with a valid modal. A test
// submits an open modal as its user would (SubmitView) and has the fake apply
// the app's answer (AnswerView).
//
// Web API methods take their arguments as a form or as a JSON object, and the
// bot token either as "Authorization: Bearer" or as the token argument, as
// Slack does; slack-go sends most methods as forms with the token argument.
// A missing token answers not_authed and a wrong one invalid_auth.
package slackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// The credentials and identities of the fake workspace.
const (
	BotToken  = "xoxb-slackfake-bot-token"
	AppToken  = "xapp-slackfake-app-token"
	TeamID    = "T0SLACKFAKE"
	AppID     = "A0SLACKFAKE"
	BotUserID = "U0CVMLOGIN"
	BotID     = "B0CVMLOGIN"
)

// MethodUpload is the method name under which Calls records the POSTs of file
// contents to an upload_url, which is not a Web API method.
const MethodUpload = "upload"

// Server is a fake Slack. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu        sync.Mutex
	calls     []Call
	faults    map[string][]*fault
	lastTS    int
	messages  map[string][]*Message // by channel, in posting order
	lastFile  int
	uploads   map[string]*upload // by file ID, until completed
	files     []File
	groups    map[string]group
	scopes    []string       // granted to BotToken; nil means DefaultScopes
	limiter   *limiter       // nil until EnforceLimits
	throttled map[string]int // 429s answered by the limits, by method
	sockets   socketState
	views     viewState
}

// Call is one request the server received.
type Call struct {
	Method string
	// Values holds the form arguments, or the top-level members of a JSON
	// body: strings as they are, anything else as its JSON text.
	Values url.Values
	// Blocks is the blocks argument, one element per block; nil without one.
	Blocks []json.RawMessage
	Time   time.Time
}

// New starts a Server on a loopback port. It is closed, with every Socket
// Mode connection, when tb ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		faults:    map[string][]*fault{},
		messages:  map[string][]*Message{},
		uploads:   map[string]*upload{},
		groups:    map[string]group{},
		throttled: map[string]int{},
		sockets:   socketState{open: map[*socket]bool{}, envelopes: map[string]sentEnvelope{}},
		views:     viewState{triggers: map[string]*trigger{}},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", s.serveMethod)
	mux.HandleFunc("POST /upload/{file}", s.serveUpload)
	mux.HandleFunc("POST /response/{id}", s.serveResponseURL)
	mux.HandleFunc("GET /ws", s.serveSocket)
	s.srv = httptest.NewServer(mux)
	tb.Cleanup(s.close)
	return s
}

func (s *Server) close() {
	s.srv.Close()
	s.closeSockets()
}

// URL returns the Web API base URL, with its trailing slash, for
// slack.OptionAPIURL.
func (s *Server) URL() string { return s.srv.URL + "/" }

// Client returns a slack-go client of s holding BotToken and AppToken. opts
// are applied after those that point it at s.
func (s *Server) Client(opts ...slack.Option) *slack.Client {
	base := []slack.Option{slack.OptionAPIURL(s.URL()), slack.OptionAppLevelToken(AppToken)}
	return slack.New(BotToken, append(base, opts...)...)
}

// Calls returns the calls of method received so far, oldest first, including
// those that failed.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.Method == method {
			c.Values = maps.Clone(c.Values)
			c.Blocks = slices.Clone(c.Blocks)
			out = append(out, c)
		}
	}
	return out
}

func (s *Server) record(method string, values url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Method: method, Values: values, Blocks: parseBlocks(values.Get("blocks")), Time: time.Now()})
}

// WaitFor polls cond until it returns true, and fails tb if it has not within
// timeout.
func WaitFor(tb testing.TB, cond func() bool, timeout time.Duration) {
	tb.Helper()
	waitFor(tb, "condition", cond, timeout)
}

func waitFor(tb testing.TB, what string, cond func() bool, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("slackfake: waited %s for %s", timeout, what)
		}
		<-tick.C
	}
}

// WaitFor is the package function WaitFor.
func (s *Server) WaitFor(tb testing.TB, cond func() bool, timeout time.Duration) {
	tb.Helper()
	WaitFor(tb, cond, timeout)
}

// A fault is a failure the server answers the next calls of a method with.
type fault struct {
	remaining  int
	retryAfter time.Duration // rate limited when slackError is "" and status is 0
	slackError string
	status     int // an HTTP status to answer with, when not 0
	// afterEffect makes the call take effect before status is answered
	// (FailAfterEffect); otherwise status replaces it (FailStatus).
	afterEffect bool
}

// RateLimit makes the next times calls of method answer HTTP 429 Too Many
// Requests with a Retry-After of retryAfter, rounded up to whole seconds.
// Faults of one method apply in the order they were set.
func (s *Server) RateLimit(method string, times int, retryAfter time.Duration) {
	s.addFault(method, &fault{remaining: times, retryAfter: retryAfter})
}

// Fail makes the next times calls of method answer {"ok":false,"error":
// slackError}; for MethodUpload, HTTP 500 with slackError as the body. Faults
// of one method apply in the order they were set.
func (s *Server) Fail(method, slackError string, times int) {
	s.addFault(method, &fault{remaining: times, slackError: slackError})
}

// FailAfterEffect makes the next times calls of method take effect, then
// answer HTTP status (e.g. 500) as if Slack failed on the way back: the
// caller cannot tell that its message was posted.
func (s *Server) FailAfterEffect(method string, status, times int) {
	s.addFault(method, &fault{remaining: times, status: status, afterEffect: true})
}

func (s *Server) addFault(method string, f *fault) {
	if f.remaining <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], f)
}

// takeFault returns the fault the current call of method must answer with,
// or nil.
func (s *Server) takeFault(method string) *fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	queue := s.faults[method]
	if len(queue) == 0 {
		return nil
	}
	f := queue[0]
	if f.remaining--; f.remaining == 0 {
		s.faults[method] = queue[1:]
	}
	return f
}

// writeHTTP answers with f as a plain HTTP failure.
func (f *fault) writeHTTP(w http.ResponseWriter) {
	if f.slackError == "" {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.retryAfter.Seconds()))))
		http.Error(w, "rate limited", http.StatusTooManyRequests)
		return
	}
	http.Error(w, f.slackError, http.StatusInternalServerError)
}

// writeAPI answers with f as a Web API method would.
func (f *fault) writeAPI(w http.ResponseWriter) {
	if f.status != 0 {
		http.Error(w, http.StatusText(f.status), f.status)
		return
	}
	if f.slackError == "" {
		f.writeHTTP(w)
		return
	}
	writeJSON(w, map[string]any{"ok": false, "error": f.slackError})
}

// MethodResponseURL is the method name under which Calls records the
// messages sent to a slash command's response_url.
const MethodResponseURL = "response_url"

// ResponseURL returns a slash-command response_url served by the fake, as
// Slack gives one with each command.
func (s *Server) ResponseURL() string { return s.srv.URL + "/response/1" }

// ResponseURLFor returns the response_url of a slash command typed in
// channel: what it is sent with response_type in_channel becomes a message
// of channel (of the thread_ts it names, if any), as in Slack.
func (s *Server) ResponseURLFor(channel string) string { return s.srv.URL + "/response/" + channel }

// serveResponseURL records a message sent to a response_url, and posts it in
// the channel of a ResponseURLFor when it is in_channel. Like Slack's, it
// needs no token.
func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	values, err := requestValues(r)
	if err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	s.record(MethodResponseURL, values)
	if f := s.takeFault(MethodResponseURL); f != nil {
		f.writeHTTP(w)
		return
	}
	if channel := r.PathValue("id"); values.Get("response_type") == "in_channel" && strings.HasPrefix(channel, "C") {
		values.Set("channel", channel)
		if _, problem := s.postMessage(values); problem != "" {
			http.Error(w, problem, http.StatusBadRequest)
			return
		}
	}
	writeJSON(w, map[string]any{"ok": true})
}

// serveMethod answers a Web API call: POST (or GET) /<method>.
func (s *Server) serveMethod(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/")
	values, err := requestValues(r)
	if err != nil {
		s.record(method, url.Values{})
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	s.record(method, values)
	run, known := methods[method]
	if !known {
		writeJSON(w, map[string]any{"ok": false, "error": "unknown_method"})
		return
	}
	if problem := checkToken(method, r, values); problem != "" {
		writeJSON(w, map[string]any{"ok": false, "error": problem})
		return
	}
	s.setScopesHeader(method, w.Header())
	if wait := s.overLimit(method, values); wait > 0 {
		writeRateLimited(w, wait)
		return
	}
	f := s.takeFault(method)
	if f != nil && !f.afterEffect {
		f.writeAPI(w)
		return
	}
	result, problem := run(s, values)
	if f != nil {
		http.Error(w, "internal error", f.status)
		return
	}
	if problem != "" {
		answer := map[string]any{"ok": false, "error": problem}
		maps.Copy(answer, result) // details, such as response_metadata
		writeJSON(w, answer)
		return
	}
	result["ok"] = true
	writeJSON(w, result)
}

// checkToken returns the Slack error for a call of method that does not carry
// the token it needs, or "".
func checkToken(method string, r *http.Request, values url.Values) string {
	want := BotToken
	if method == "apps.connections.open" {
		want = AppToken
	}
	got, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !hasBearer {
		got = values.Get("token")
	}
	switch got {
	case want:
		return ""
	case "":
		return "not_authed"
	default:
		return "invalid_auth"
	}
}

// requestValues returns the arguments of a Web API call: the query merged with
// a form body, or with the top-level members of a JSON body.
func requestValues(r *http.Request) (url.Values, error) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := r.ParseForm(); err != nil {
			return nil, fmt.Errorf("parsing form: %w", err)
		}
		return r.Form, nil
	}
	values := r.URL.Query()
	var members map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&members); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decoding JSON body: %w", err)
	}
	for name, raw := range members {
		var text string
		if json.Unmarshal(raw, &text) != nil {
			text = string(raw)
		}
		values.Set(name, text)
	}
	return values, nil
}

// parseBlocks splits a blocks argument, a JSON array, into its blocks. It
// returns nil if the argument is empty or not an array.
func parseBlocks(arg string) []json.RawMessage {
	var blocks []json.RawMessage
	if arg == "" || json.Unmarshal([]byte(arg), &blocks) != nil {
		return nil
	}
	return blocks
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}
