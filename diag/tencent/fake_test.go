package tencent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
)

// The credentials the tests sign with. The fake does not verify signatures
// (the simulator does); it checks the headers that route a request.
const (
	testSecretID  = "AKIDtestsecretid0000000000000000"
	testSecretKey = "testSecretKeyThatMustNeverLeak42"
	testRegion    = "ap-guangzhou"
)

// apiVersions is each action's service and API version, as documented
// (reference: tencent-cloud-api.md §1).
var apiVersions = map[string]struct{ service, version string }{
	"DescribeInstances":             {"cvm", "2017-03-12"},
	"DescribeImages":                {"cvm", "2017-03-12"},
	"DescribeInstanceVncUrl":        {"cvm", "2017-03-12"},
	"RebootInstances":               {"cvm", "2017-03-12"},
	"StartInstances":                {"cvm", "2017-03-12"},
	"DescribeAddresses":             {"vpc", "2017-03-12"},
	"DescribeSecurityGroupPolicies": {"vpc", "2017-03-12"},
	"CreateSecurityGroupPolicies":   {"vpc", "2017-03-12"},
	"DeleteSecurityGroupPolicies":   {"vpc", "2017-03-12"},
	"DescribeAddressTemplates":      {"vpc", "2017-03-12"},
	"DescribeAddressTemplateGroups": {"vpc", "2017-03-12"},
	"DescribeServiceTemplates":      {"vpc", "2017-03-12"},
	"DescribeServiceTemplateGroups": {"vpc", "2017-03-12"},
	"GetMonitorData":                {"monitor", "2018-07-24"},
	"DescribeAccountBalance":        {"billing", "2018-07-09"},
	"RunCommand":                    {"tat", "2020-10-28"},
	"DescribeInvocationTasks":       {"tat", "2020-10-28"},
	"DescribeAutomationAgentStatus": {"tat", "2020-10-28"},
	"DescribeBasicDeviceStatus":     {"antiddos", "2020-03-09"},
}

// reply is one answer of the fake.
type reply struct {
	status int    // HTTP status; 0 means 200
	body   string // the body, as sent
	hangUp bool   // close the connection without answering
	block  bool   // answer nothing until the client gives up
}

// success is a 200 reply whose Response object holds fields (a JSON object's
// members, possibly none) and RequestId "req-ok".
func success(fields string) reply {
	if fields != "" {
		fields += ","
	}
	return reply{body: `{"Response":{` + fields + `"RequestId":"req-ok"}}`}
}

// failure is a Tencent Cloud error reply.
func failure(code, message string) reply {
	return reply{body: fmt.Sprintf(`{"Response":{"Error":{"Code":%q,"Message":%q},"RequestId":"req-err"}}`, code, message)}
}

// received is a request as the fake saw it.
type received struct {
	action, region, language, authorization string
	body                                    map[string]any
}

// fakeCloud is a Tencent Cloud API endpoint on 127.0.0.1 that answers each
// action with queued replies (the last one repeats) and records requests.
type fakeCloud struct {
	t       testing.TB
	srv     *httptest.Server
	stop    chan struct{} // releases blocked handlers
	mu      sync.Mutex
	replies map[string][]reply
	got     []received
}

var credentialScope = regexp.MustCompile(`Credential=[^/]+/\d{4}-\d{2}-\d{2}/([a-z]+)/tc3_request`)

func newFakeCloud(tb testing.TB) *fakeCloud {
	tb.Helper()
	f := &fakeCloud{t: tb, stop: make(chan struct{}), replies: make(map[string][]reply)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.srv.Close)
	tb.Cleanup(func() { close(f.stop) }) // runs before Close
	return f
}

// endpoint is the fake's host:port, for Config.Endpoint.
func (f *fakeCloud) endpoint() string { return strings.TrimPrefix(f.srv.URL, "http://") }

// on queues replies to action.
func (f *fakeCloud) on(action string, replies ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies[action] = append(f.replies[action], replies...)
}

// requests returns the requests received so far.
func (f *fakeCloud) requests() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.got...)
}

// only returns the single request received, failing the test otherwise.
func (f *fakeCloud) only() received {
	f.t.Helper()
	got := f.requests()
	if len(got) != 1 {
		f.t.Fatalf("the fake received %d requests, want 1", len(got))
	}
	return got[0]
}

func (f *fakeCloud) serve(w http.ResponseWriter, r *http.Request) {
	action := r.Header.Get("X-TC-Action")
	want, known := apiVersions[action]
	switch {
	case r.Method != http.MethodPost:
		f.t.Errorf("%s: method %s, want POST", action, r.Method)
	case !known:
		f.t.Errorf("unexpected action %q", action)
	case r.Header.Get("X-TC-Version") != want.version:
		f.t.Errorf("%s: X-TC-Version %q, want %q", action, r.Header.Get("X-TC-Version"), want.version)
	}
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m == nil || m[1] != want.service {
		f.t.Errorf("%s: Authorization %q does not sign for service %q", action, r.Header.Get("Authorization"), want.service)
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		f.t.Errorf("%s: body %q is not a JSON object: %v", action, raw, err)
	}
	rep, ok := f.record(received{
		action:        action,
		region:        r.Header.Get("X-TC-Region"),
		language:      r.Header.Get("X-TC-Language"),
		authorization: r.Header.Get("Authorization"),
		body:          body,
	})
	if !ok {
		f.t.Errorf("no reply queued for %s", action)
		rep = failure("InternalError", "no reply queued")
	}
	f.answer(w, r, rep)
}

// record notes a request and returns the reply to it.
func (f *fakeCloud) record(req received) (reply, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, req)
	queue := f.replies[req.action]
	if len(queue) == 0 {
		return reply{}, false
	}
	if len(queue) > 1 {
		f.replies[req.action] = queue[1:]
	}
	return queue[0], true
}

func (f *fakeCloud) answer(w http.ResponseWriter, r *http.Request, rep reply) {
	switch {
	case rep.block:
		select {
		case <-r.Context().Done():
		case <-f.stop:
		}
		return
	case rep.hangUp:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			f.t.Errorf("hijacking: %v", err)
			return
		}
		conn.Close()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if rep.status != 0 {
		w.WriteHeader(rep.status)
	}
	io.WriteString(w, rep.body)
}

// newTestClient returns a Client of the fake that logs to logs (if not nil)
// and retries quickly. edit, if not nil, adjusts the configuration.
func newTestClient(tb testing.TB, f *fakeCloud, logs *bytes.Buffer, edit func(*Config)) *Client {
	tb.Helper()
	cfg := Config{
		Region:    testRegion,
		Endpoint:  f.endpoint(),
		Scheme:    "http",
		SecretID:  testSecretID,
		SecretKey: testSecretKey,
		Timeout:   5 * time.Second,
		RetryBase: time.Millisecond,
		Logger:    slog.New(slog.DiscardHandler),
	}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

// withCallLog returns a context that records API calls into the returned log.
func withCallLog() (context.Context, *diag.CallLog) {
	log := &diag.CallLog{}
	return diag.WithCallLog(context.Background(), log), log
}

// field returns the JSON value at a path of object keys and array indexes in
// a decoded body, or nil.
func field(v any, path ...any) any {
	for _, p := range path {
		switch key := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[key]
		case int:
			a, _ := v.([]any)
			if key >= len(a) {
				return nil
			}
			v = a[key]
		}
	}
	return v
}

// jsonOf re-encodes a decoded value, for comparing request bodies.
func jsonOf(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
