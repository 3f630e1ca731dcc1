package slackio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/internal/slackfake"
	"github.com/cvmlogin/cvmlogin/internal/slacktest"
)

// recordingHandler is a Handler that records its calls. FirstSeen remembers
// deliveries in a map. Action and Mention wait, if release is set, until it
// is closed or their context ends.
type recordingHandler struct {
	reply    Reply
	view     ViewReply // Submit's answer
	readyErr error
	seenErr  error // FirstSeen's error, when set
	release  chan struct{}

	mu    sync.Mutex
	seen  map[string]bool
	calls handlerCalls
}

// handlerCalls is what a recordingHandler records.
type handlerCalls struct {
	commands  []slack.SlashCommand
	actions   []slack.InteractionCallback
	submits   []slack.InteractionCallback
	mentions  []Mention
	refusals  []Refusal
	seenCalls int
	started   int     // Action and Mention calls begun
	ctxErrs   []error // why the ctx of a waiting call ended, when it did
}

func (h *recordingHandler) Command(_ context.Context, cmd slack.SlashCommand) Reply {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls.commands = append(h.calls.commands, cmd)
	return h.reply
}

func (h *recordingHandler) Action(ctx context.Context, cb slack.InteractionCallback) {
	if h.wait(ctx) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls.actions = append(h.calls.actions, cb)
	}
}

func (h *recordingHandler) Submit(_ context.Context, cb slack.InteractionCallback) ViewReply {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls.submits = append(h.calls.submits, cb)
	return h.view
}

func (h *recordingHandler) Mention(ctx context.Context, m Mention) {
	if h.wait(ctx) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls.mentions = append(h.calls.mentions, m)
	}
}

// wait blocks until release is closed, and reports false if ctx ended first.
func (h *recordingHandler) wait(ctx context.Context) bool {
	h.mu.Lock()
	h.calls.started++
	h.mu.Unlock()
	if h.release == nil {
		return true
	}
	select {
	case <-h.release:
		return true
	case <-ctx.Done():
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls.ctxErrs = append(h.calls.ctxErrs, ctx.Err())
		return false
	}
}

func (h *recordingHandler) FirstSeen(_ context.Context, kind, id string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls.seenCalls++
	if h.seenErr != nil {
		return false, h.seenErr
	}
	if h.seen == nil {
		h.seen = map[string]bool{}
	}
	key := kind + "/" + id
	first := !h.seen[key]
	h.seen[key] = true
	return first, nil
}

func (h *recordingHandler) Ready(context.Context) error { return h.readyErr }

func (h *recordingHandler) Refuse(_ context.Context, r Refusal) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls.refusals = append(h.calls.refusals, r)
}

// snapshot returns a copy of what h recorded.
func (h *recordingHandler) snapshot() handlerCalls {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.calls
	c.commands, c.actions, c.mentions = slices.Clone(c.commands), slices.Clone(c.actions), slices.Clone(c.mentions)
	c.submits = slices.Clone(c.submits)
	c.refusals = slices.Clone(c.refusals)
	c.ctxErrs = slices.Clone(c.ctxErrs)
	return c
}

// logBuffer collects the text logs of a test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

const testSigningSecret = "transport-test-signing-secret"

// Payloads shared by the HTTP and Socket Mode tests.
const (
	blockActionsPayload = `{"type":"block_actions","user":{"id":"U1"},"channel":{"id":"C1"},` +
		`"container":{"type":"message","message_ts":"1700000000.000100","channel_id":"C1"},` +
		`"actions":[{"action_id":"approve","block_id":"fix","value":"ref-1","type":"button","action_ts":"1700000001.000200"}]}`
	viewSubmissionPayload = `{"type":"view_submission","user":{"id":"U1"},"view":{"id":"V1"}}`
)

func appMentionCallback(eventID string) string {
	return `{"type":"event_callback","team_id":"T1","api_app_id":"A1","event_id":"` + eventID + `","event_time":1700000000,` +
		`"event":{"type":"app_mention","user":"U1","text":"<@U0CVMLOGIN> ins-abc12345","ts":"1700000000.000300",` +
		`"thread_ts":"1700000000.000100","channel":"C1","event_ts":"1700000000.000300"}}`
}

func commandForm(text string) string {
	return url.Values{
		"command": {"/cvm-login"}, "text": {text}, "user_id": {"U1"}, "channel_id": {"C1"}, "team_id": {"T1"},
		"response_url": {"https://hooks.slack.com/commands/T1/1/x"}, "trigger_id": {"1.2.3"},
	}.Encode()
}

func interactionForm(payload string) string {
	return url.Values{"payload": {payload}}.Encode()
}

// startHTTP serves s on a loopback port until the test ends, and returns its
// base URL.
func startHTTP(t *testing.T, s *HTTPServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func newSlackHTTP(t *testing.T, h Handler, opts HTTPOptions) (*HTTPServer, string) {
	t.Helper()
	opts.SlackRoutes = true
	if opts.Verifier.Secret == "" {
		opts.Verifier.Secret = testSigningSecret
	}
	s := NewHTTPServer(h, opts)
	return s, startHTTP(t, s)
}

// slackRequest returns a request to base+path as Slack would send it at the
// given time, signed with secret.
func slackRequest(t *testing.T, base, path, body, secret string, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if path == "/slack/events" {
		req.Header.Set("Content-Type", "application/json")
	}
	timestamp := strconv.FormatInt(at.Unix(), 10)
	req.Header.Set(HeaderTimestamp, timestamp)
	req.Header.Set(HeaderSignature, Sign(secret, timestamp, []byte(body)))
	return req
}

// do sends req and returns the response with its body read.
func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestHTTPCommand(t *testing.T) {
	tests := []struct {
		name         string
		reply        Reply
		body         string
		wantBody     string
		wantType     string
		wantCommands int
	}{
		{"reply", Reply{Text: "Diagnosing `ins-abc12345`…"}, commandForm("ins-abc12345"),
			`{"response_type":"ephemeral","text":"Diagnosing ` + "`ins-abc12345`" + `…"}` + "\n", "application/json", 1},
		{"no reply", Reply{}, commandForm("ins-abc12345"), "", "", 1},
		{"ssl check", Reply{Text: "unused"}, "ssl_check=1&token=x", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{reply: tt.reply}
			_, base := newSlackHTTP(t, h, HTTPOptions{})
			start := time.Now()
			resp, body := do(t, slackRequest(t, base, "/slack/commands", tt.body, testSigningSecret, time.Now()))
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("acknowledged after %s", elapsed)
			}
			if resp.StatusCode != http.StatusOK || body != tt.wantBody {
				t.Errorf("answer = %d %q, want 200 %q", resp.StatusCode, body, tt.wantBody)
			}
			if got := resp.Header.Get("Content-Type"); tt.wantType != "" && got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			got := h.snapshot().commands
			if len(got) != tt.wantCommands {
				t.Fatalf("Command called %d times, want %d", len(got), tt.wantCommands)
			}
			if tt.wantCommands > 0 {
				if c := got[0]; c.Command != "/cvm-login" || c.Text != "ins-abc12345" || c.UserID != "U1" || c.ChannelID != "C1" {
					t.Errorf("Command got %+v", c)
				}
			}
		})
	}
}

func TestHTTPRejectsUnverifiedRequests(t *testing.T) {
	now := time.Now()
	const maxBody = 4096
	tests := []struct {
		name       string
		request    func(t *testing.T, base, path string) *http.Request
		wantStatus int
	}{
		{"forged signature", func(t *testing.T, base, path string) *http.Request {
			return slackRequest(t, base, path, bodyFor(path), "not-the-secret", now)
		}, http.StatusUnauthorized},
		{"timestamp 6 minutes old", func(t *testing.T, base, path string) *http.Request {
			return slackRequest(t, base, path, bodyFor(path), testSigningSecret, now.Add(-6*time.Minute))
		}, http.StatusUnauthorized},
		{"timestamp 6 minutes ahead", func(t *testing.T, base, path string) *http.Request {
			return slackRequest(t, base, path, bodyFor(path), testSigningSecret, now.Add(6*time.Minute))
		}, http.StatusUnauthorized},
		{"body changed after signing", func(t *testing.T, base, path string) *http.Request {
			req := slackRequest(t, base, path, bodyFor(path), testSigningSecret, now)
			tampered := strings.Replace(bodyFor(path), "U1", "U2", 1)
			req.Body, req.ContentLength = io.NopCloser(strings.NewReader(tampered)), int64(len(tampered))
			return req
		}, http.StatusUnauthorized},
		{"no signature headers", func(t *testing.T, base, path string) *http.Request {
			req := slackRequest(t, base, path, bodyFor(path), testSigningSecret, now)
			req.Header.Del(HeaderSignature)
			req.Header.Del(HeaderTimestamp)
			return req
		}, http.StatusUnauthorized},
		{"no timestamp header", func(t *testing.T, base, path string) *http.Request {
			req := slackRequest(t, base, path, bodyFor(path), testSigningSecret, now)
			req.Header.Del(HeaderTimestamp)
			return req
		}, http.StatusUnauthorized},
		{"body over MaxBody", func(t *testing.T, base, path string) *http.Request {
			return slackRequest(t, base, path, bodyFor(path)+"&pad="+strings.Repeat("x", maxBody), testSigningSecret, now)
		}, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		for _, path := range []string{"/slack/commands", "/slack/interactions", "/slack/events"} {
			t.Run(tt.name+path, func(t *testing.T) {
				h := &recordingHandler{reply: Reply{Text: "must not be seen"}}
				logger, logs := newTestLogger()
				s, base := newSlackHTTP(t, h, HTTPOptions{MaxBody: maxBody, Logger: logger})
				req := tt.request(t, base, path)
				signature := req.Header.Get(HeaderSignature)
				resp, body := do(t, req)
				if resp.StatusCode != tt.wantStatus || body == "" || strings.Contains(body, "must not") {
					t.Errorf("answer = %d %q, want %d with a reason", resp.StatusCode, body, tt.wantStatus)
				}
				if err := s.Shutdown(t.Context()); err != nil { // waits for anything wrongly started
					t.Fatal(err)
				}
				if got := h.snapshot(); len(got.commands)+got.started+got.seenCalls != 0 {
					t.Errorf("Handler called for a rejected request: %+v", got)
				}
				logged := logs.String()
				if !strings.Contains(logged, "level=WARN") || !strings.Contains(logged, "remote_addr=127.0.0.1:") || !strings.Contains(logged, "reason=") {
					t.Errorf("rejection logged as %q, want a warning with remote_addr and reason", logged)
				}
				if strings.Contains(logged, "U1") || (signature != "" && strings.Contains(logged, signature[3:])) {
					t.Errorf("rejection log %q leaks the body or the signature", logged)
				}
			})
		}
	}
}

func bodyFor(path string) string {
	switch path {
	case "/slack/commands":
		return commandForm("ins-abc12345")
	case "/slack/interactions":
		return interactionForm(blockActionsPayload)
	default:
		return appMentionCallback("Ev1")
	}
}

func TestHTTPRejectsReplayOutsideWindow(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().Unix())
	h := &recordingHandler{}
	_, base := newSlackHTTP(t, h, HTTPOptions{Verifier: Verifier{
		Secret: testSigningSecret,
		Now:    func() time.Time { return time.Unix(clock.Load(), 0) },
	}})
	captured := slackRequest(t, base, "/slack/commands", commandForm("ins-abc12345"), testSigningSecret, time.Unix(clock.Load(), 0))
	replay := func() int {
		req := captured.Clone(context.Background())
		req.Body = io.NopCloser(strings.NewReader(commandForm("ins-abc12345")))
		resp, _ := do(t, req)
		return resp.StatusCode
	}

	if status := replay(); status != http.StatusOK {
		t.Fatalf("original request: %d, want 200", status)
	}
	clock.Add(int64((5*time.Minute + time.Second) / time.Second))
	if status := replay(); status != http.StatusUnauthorized {
		t.Errorf("replay 5m1s later: %d, want 401", status)
	}
	if n := len(h.snapshot().commands); n != 1 {
		t.Errorf("Command called %d times, want only for the original", n)
	}
}

func TestHTTPURLVerification(t *testing.T) {
	h := &recordingHandler{}
	_, base := newSlackHTTP(t, h, HTTPOptions{})
	const challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
	resp, body := do(t, slackRequest(t, base, "/slack/events",
		`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"`+challenge+`","type":"url_verification"}`, testSigningSecret, time.Now()))
	if resp.StatusCode != http.StatusOK || body != challenge {
		t.Errorf("answer = %d %q, want 200 and the challenge", resp.StatusCode, body)
	}
}

func TestHTTPEventRetryHandledOnce(t *testing.T) {
	h := &recordingHandler{}
	logger, logs := newTestLogger()
	s, base := newSlackHTTP(t, h, HTTPOptions{Logger: logger})
	for retry := range 2 {
		// A redelivery is a new request, signed anew: not a replay.
		req := slackRequest(t, base, "/slack/events", appMentionCallback("Ev42"), testSigningSecret, time.Now().Add(time.Duration(retry)*time.Second))
		if retry > 0 {
			req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(retry))
			req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
		}
		if resp, body := do(t, req); resp.StatusCode != http.StatusOK || body != "" {
			t.Fatalf("delivery %d answered %d %q, want an empty 200", retry, resp.StatusCode, body)
		}
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	got := h.snapshot()
	want := Mention{EventID: "Ev42", Channel: "C1", User: "U1", Text: "<@U0CVMLOGIN> ins-abc12345",
		TS: "1700000000.000300", ThreadTS: "1700000000.000100"}
	if got.seenCalls != 4 || len(got.mentions) != 1 || got.mentions[0] != want {
		t.Errorf("FirstSeen calls %d, mentions %+v; want 4 (signature and event_id, twice) and once %+v", got.seenCalls, got.mentions, want)
	}
	if !strings.Contains(logs.String(), "retry=1") {
		t.Errorf("the retry was not logged: %s", logs)
	}
}

func TestMentionFrom(t *testing.T) {
	mention := func(fields string) eventCallback {
		return eventCallback{Type: "event_callback", EventID: "Ev1", Event: []byte(`{"type":"app_mention",` + fields + `}`)}
	}
	tests := []struct {
		name string
		cb   eventCallback
		want Mention
		ok   bool
	}{
		{"top level", mention(`"user":"U1","channel":"C1","text":"<@U0> ins-abc12345","ts":"1.1"`),
			Mention{EventID: "Ev1", Channel: "C1", User: "U1", Text: "<@U0> ins-abc12345", TS: "1.1"}, true},
		{"in a thread", mention(`"user":"U1","channel":"C1","text":"<@U0> again","ts":"1.2","thread_ts":"1.1"`),
			Mention{EventID: "Ev1", Channel: "C1", User: "U1", Text: "<@U0> again", TS: "1.2", ThreadTS: "1.1"}, true},
		{"posted by a bot", mention(`"user":"U2","bot_id":"B2","channel":"C1","text":"<@U0>","ts":"1.3"`), Mention{}, false},
		{"with a subtype", mention(`"subtype":"message_changed","channel":"C1","ts":"1.4"`), Mention{}, false},
		{"a message event", eventCallback{EventID: "Ev1", Event: []byte(`{"type":"message","user":"U1","text":"hi"}`)}, Mention{}, false},
		{"malformed", eventCallback{EventID: "Ev1", Event: []byte(`{"type":`)}, Mention{}, false},
		{"no event", eventCallback{EventID: "Ev1"}, Mention{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := mentionFrom(tt.cb)
			if got != tt.want || ok != tt.ok {
				t.Errorf("mentionFrom = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestHTTPInteraction(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		wantStatus  int
		wantActions int
	}{
		{"block_actions", interactionForm(blockActionsPayload), http.StatusOK, 1},
		{"view_submission is not a press", interactionForm(viewSubmissionPayload), http.StatusOK, 0},
		{"no payload", "payload=", http.StatusBadRequest, 0},
		{"payload in the query only", "", http.StatusBadRequest, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{}
			s, base := newSlackHTTP(t, h, HTTPOptions{})
			req := slackRequest(t, base, "/slack/interactions", tt.body, testSigningSecret, time.Now())
			req.URL.RawQuery = interactionForm(blockActionsPayload) // never read: it is not signed
			if resp, body := do(t, req); resp.StatusCode != tt.wantStatus {
				t.Errorf("answer = %d %q, want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if err := s.Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
			got := h.snapshot().actions
			if len(got) != tt.wantActions {
				t.Fatalf("Action called %d times, want %d", len(got), tt.wantActions)
			}
			if tt.wantActions > 0 {
				if cb := got[0]; cb.User.ID != "U1" || len(cb.ActionCallback.BlockActions) != 1 || cb.ActionCallback.BlockActions[0].ActionID != "approve" {
					t.Errorf("Action got %+v", cb)
				}
			}
		})
	}
}

func TestHTTPHealthAndMetrics(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "cvmlogin_up 1\n") })
	tests := []struct {
		name       string
		readyErr   error
		opts       HTTPOptions
		method     string
		path       string
		wantStatus int
		wantBody   string
	}{
		{"healthz", nil, HTTPOptions{}, http.MethodGet, "/healthz", http.StatusOK, "ok"},
		{"ready", nil, HTTPOptions{}, http.MethodGet, "/readyz", http.StatusOK, "ok"},
		{"not ready", errors.New("redis: connection refused"), HTTPOptions{}, http.MethodGet, "/readyz",
			http.StatusServiceUnavailable, "redis: connection refused\n"},
		{"no metrics handler", nil, HTTPOptions{}, http.MethodGet, "/metrics", http.StatusNotFound, "404 page not found\n"},
		{"metrics", nil, HTTPOptions{Metrics: metrics}, http.MethodGet, "/metrics", http.StatusOK, "cvmlogin_up 1\n"},
		{"no Slack routes in socket mode", nil, HTTPOptions{}, http.MethodPost, "/slack/commands", http.StatusNotFound, "404 page not found\n"},
		{"Slack routes take POST only", nil, HTTPOptions{SlackRoutes: true}, http.MethodGet, "/slack/events",
			http.StatusMethodNotAllowed, "Method Not Allowed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{readyErr: tt.readyErr}
			base := startHTTP(t, NewHTTPServer(h, tt.opts))
			req, err := http.NewRequest(tt.method, base+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp, body := do(t, req); resp.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Errorf("answer = %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestHTTPShutdownWaitsForAcknowledgedWork(t *testing.T) {
	h := &recordingHandler{release: make(chan struct{})}
	s, base := newSlackHTTP(t, h, HTTPOptions{})
	if resp, _ := do(t, slackRequest(t, base, "/slack/interactions", interactionForm(blockActionsPayload), testSigningSecret, time.Now())); resp.StatusCode != http.StatusOK {
		t.Fatalf("answer = %d, want 200 before the Action finished", resp.StatusCode)
	}
	slackfake.WaitFor(t, func() bool { return h.snapshot().started == 1 }, 5*time.Second)

	stopped := make(chan error, 1)
	go func() { stopped <- s.Shutdown(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned %v while an Action was running", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(h.release)
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := len(h.snapshot().actions); n != 1 {
		t.Errorf("%d Actions finished before Shutdown returned, want 1", n)
	}
}

func TestHTTPShutdownDeadlineCancelsWork(t *testing.T) {
	h := &recordingHandler{release: make(chan struct{})} // never closed
	s, base := newSlackHTTP(t, h, HTTPOptions{})
	do(t, slackRequest(t, base, "/slack/interactions", interactionForm(blockActionsPayload), testSigningSecret, time.Now()))
	slackfake.WaitFor(t, func() bool { return h.snapshot().started == 1 }, 5*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want the deadline", err)
	}
	slackfake.WaitFor(t, func() bool { return len(h.snapshot().ctxErrs) == 1 }, 5*time.Second)
	if err := h.snapshot().ctxErrs[0]; !errors.Is(err, context.Canceled) {
		t.Errorf("the Action's context ended with %v, want it cancelled", err)
	}
}

func TestHTTPDropsWorkBeyondMaxInFlight(t *testing.T) {
	h := &recordingHandler{release: make(chan struct{})}
	logger, logs := newTestLogger()
	s, base := newSlackHTTP(t, h, HTTPOptions{MaxInFlight: 1, Logger: logger})
	for i := range 2 {
		start := time.Now()
		resp, _ := do(t, slackRequest(t, base, "/slack/interactions", interactionForm(blockActionsPayload), testSigningSecret, time.Now()))
		if resp.StatusCode != http.StatusOK || time.Since(start) > time.Second {
			t.Errorf("press %d answered %d after %s, want 200 at once", i, resp.StatusCode, time.Since(start))
		}
	}
	close(h.release)
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := h.snapshot(); got.started != 1 || len(got.actions) != 1 {
		t.Errorf("Action started %d times, finished %d; want 1 of each", got.started, len(got.actions))
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="dropped Slack work: too much in flight"`) {
		t.Errorf("the dropped work was not logged as an error: %s", logs)
	}
}

func BenchmarkHTTPCommandAck(b *testing.B) {
	h := &recordingHandler{reply: Reply{Text: "Diagnosing `ins-abc12345`…"}}
	s := NewHTTPServer(h, HTTPOptions{Verifier: Verifier{Secret: testSigningSecret}, SlackRoutes: true})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	body := commandForm("ins-abc12345")
	slacktest.BenchmarkAcks(b, srv.URL, signCommands(), func(int, int) string { return body })
}

// signCommands returns what signs a slash command with testSigningSecret.
func signCommands() slacktest.Signer {
	return func(req *http.Request, timestamp string, body []byte) {
		req.Header.Set(HeaderTimestamp, timestamp)
		req.Header.Set(HeaderSignature, Sign(testSigningSecret, timestamp, body))
	}
}

// refusalCounter records ObserveRefused calls as "kind/reason".
type refusalCounter struct {
	mu  sync.Mutex
	got []string
}

func (c *refusalCounter) observe(kind, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, kind+"/"+reason)
}

func (c *refusalCounter) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// TestHTTPReplayCache: a verified request sent twice is handled once and the
// replay counted; when the replay cache cannot answer, the request is refused
// (a command in its acknowledgement, a press or mention through Refuse) and
// the Handler never sees it.
func TestHTTPReplayCache(t *testing.T) {
	tests := []struct {
		name, path, body string
		seenErr          error
		wantBody         string // of the second answer
		wantRefused      []string
		wantRefusals     int // Refuse calls
	}{
		{"command replayed", "/slack/commands", commandForm("ins-abc12345"), nil, "", []string{"command/replay"}, 0},
		{"press replayed", "/slack/interactions", interactionForm(blockActionsPayload), nil, "", []string{"interaction/replay"}, 0},
		{"mention replayed", "/slack/events", appMentionCallback("Ev1"), nil, "", []string{"event/replay"}, 0},
		{"command, cache down", "/slack/commands", commandForm("ins-abc12345"), errors.New("redis down"),
			`{"response_type":"ephemeral","text":"` + msgReplayUnchecked + `"}` + "\n", []string{"command/replay_unchecked", "command/replay_unchecked"}, 0},
		{"press, cache down", "/slack/interactions", interactionForm(blockActionsPayload), errors.New("redis down"), "",
			[]string{"interaction/replay_unchecked", "interaction/replay_unchecked"}, 2},
		{"mention, cache down", "/slack/events", appMentionCallback("Ev1"), errors.New("redis down"), "",
			[]string{"event/replay_unchecked", "event/replay_unchecked"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{reply: Reply{Text: "started"}, seenErr: tt.seenErr}
			refused := &refusalCounter{}
			s, base := newSlackHTTP(t, h, HTTPOptions{ObserveRefused: refused.observe})
			req := slackRequest(t, base, tt.path, tt.body, testSigningSecret, time.Now())
			do(t, req)
			again := slackRequest(t, base, tt.path, tt.body, testSigningSecret, time.Now())
			again.Header = req.Header.Clone()
			if resp, body := do(t, again); resp.StatusCode != http.StatusOK || body != tt.wantBody {
				t.Errorf("second answer %d %q, want 200 %q", resp.StatusCode, body, tt.wantBody)
			}
			if err := s.Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
			got := h.snapshot()
			handled := len(got.commands) + len(got.actions) + len(got.mentions)
			if wantHandled := map[bool]int{true: 0, false: 1}[tt.seenErr != nil]; handled != wantHandled {
				t.Errorf("handled %d times, want %d", handled, wantHandled)
			}
			if len(got.refusals) != tt.wantRefusals || !slices.Equal(refused.snapshot(), tt.wantRefused) {
				t.Errorf("Refuse calls %+v, counted %q; want %d and %q", got.refusals, refused.snapshot(), tt.wantRefusals, tt.wantRefused)
			}
		})
	}
}

// TestHTTPPressPayloadBound: a block_actions payload with more actions than
// one click makes never reaches the Handler, and is counted.
func TestHTTPPressPayloadBound(t *testing.T) {
	h := &recordingHandler{}
	refused := &refusalCounter{}
	s, base := newSlackHTTP(t, h, HTTPOptions{ObserveRefused: refused.observe})
	two := strings.Replace(blockActionsPayload, `"actions":[{`, `"actions":[{"action_id":"reject","block_id":"fix","value":"ref-2","type":"button"},{`, 1)
	for _, payload := range []string{two, strings.Replace(blockActionsPayload, `"actions":[`, `"actions":[],"x":[`, 1)} {
		if resp, _ := do(t, slackRequest(t, base, "/slack/interactions", interactionForm(payload), testSigningSecret, time.Now())); resp.StatusCode != http.StatusOK {
			t.Errorf("answered %d, want 200", resp.StatusCode)
		}
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := h.snapshot(); len(got.actions) != 0 || len(got.refusals) != 0 {
		t.Errorf("Handler saw %d actions and %d refusals, want none", len(got.actions), len(got.refusals))
	}
	if want := []string{"interaction/too_many_actions", "interaction/too_many_actions"}; !slices.Equal(refused.snapshot(), want) {
		t.Errorf("counted %q, want %q", refused.snapshot(), want)
	}
}

// TestHTTPOverloadedPressIsAnswered: a press dropped for lack of a slot is
// still answered, through Refuse.
func TestHTTPOverloadedPressIsAnswered(t *testing.T) {
	h := &recordingHandler{release: make(chan struct{})}
	refused := &refusalCounter{}
	s, base := newSlackHTTP(t, h, HTTPOptions{MaxInFlight: 1, ObserveRefused: refused.observe})
	for i := range 2 {
		do(t, slackRequest(t, base, "/slack/interactions", interactionForm(blockActionsPayload), testSigningSecret, time.Now().Add(time.Duration(i)*time.Second)))
	}
	close(h.release)
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := h.snapshot()
	if len(got.actions) != 1 || len(got.refusals) != 1 || got.refusals[0].Text != MsgOverloaded || got.refusals[0].User != "U1" {
		t.Errorf("actions %d, refusals %+v; want 1 and one overload answer to U1", len(got.actions), got.refusals)
	}
	if want := []string{"interaction/overloaded"}; !slices.Equal(refused.snapshot(), want) {
		t.Errorf("counted %q, want %q", refused.snapshot(), want)
	}
}
