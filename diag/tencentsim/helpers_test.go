package tencentsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, time.March, 14, 8, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testClient signs and sends API calls to a started Sim, as the SDK does.
type testClient struct {
	tb       testing.TB
	endpoint string
	now      func() time.Time
	region   string
}

// startSim starts a Sim on loopback with opts (the built-in scenarios and
// the clock clock) and returns it with a client.
func startSim(tb testing.TB, clock *fakeClock, opts Options) (*Sim, *testClient) {
	tb.Helper()
	opts.Now = clock.Now
	sim := New(opts)
	endpoint, err := sim.Start("")
	if err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(sim.Close)
	return sim, &testClient{tb: tb, endpoint: endpoint, now: clock.Now, region: defaultRegion}
}

// wireCall is one request as sent; fields left zero take the defaults of
// a well-signed SDK request.
type wireCall struct {
	service, action, version, region string
	params                           string // the JSON body
	secretID, secretKey              string
	ts                               int64
	contentType                      string
	signedHost                       string // default: the endpoint
	sentBody                         *string
	authorization                    *string
	headers                          map[string]string
}

func (c *testClient) withDefaults(w wireCall) wireCall {
	if w.version == "" {
		w.version = services[w.service].version
	}
	if w.region == "" {
		w.region = c.region
	}
	if w.secretID == "" {
		w.secretID, w.secretKey = TestSecretID, TestSecretKey
	}
	if w.ts == 0 {
		w.ts = c.now().Unix()
	}
	if w.contentType == "" {
		w.contentType = "application/json"
	}
	if w.signedHost == "" {
		w.signedHost = c.endpoint
	}
	return w
}

// response is a decoded {"Response": ...}.
type response struct {
	RequestID string    `json:"RequestId"`
	Error     *apiError `json:"Error"`
	raw       json.RawMessage
}

// code is the error code, "" for success.
func (r response) code() string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Code
}

func (c *testClient) send(w wireCall) response {
	c.tb.Helper()
	w = c.withDefaults(w)
	body := w.params
	if w.sentBody != nil {
		body = *w.sentBody
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+c.endpoint+"/", strings.NewReader(body))
	if err != nil {
		c.tb.Fatalf("building request: %v", err)
	}
	auth := Sign(w.secretID, w.secretKey, w.service, w.signedHost, w.contentType, w.ts, []byte(w.params))
	if w.authorization != nil {
		auth = *w.authorization
	}
	for k, v := range map[string]string{
		"Content-Type": w.contentType, "Authorization": auth, "X-TC-Action": w.action, "X-TC-Version": w.version,
		"X-TC-Region": w.region, "X-TC-Timestamp": strconv.FormatInt(w.ts, 10),
	} {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	for k, v := range w.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.tb.Fatalf("%s.%s: %v", w.service, w.action, err)
	}
	defer resp.Body.Close()
	return decodeResponse(c.tb, resp)
}

func decodeResponse(tb testing.TB, resp *http.Response) response {
	tb.Helper()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("reading response: %v", err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		tb.Fatalf("HTTP %d %s, want 200 application/json: %s", resp.StatusCode, resp.Header.Get("Content-Type"), data)
	}
	var env struct{ Response json.RawMessage }
	if err := json.Unmarshal(data, &env); err != nil {
		tb.Fatalf("decoding envelope %s: %v", data, err)
	}
	r := response{raw: env.Response}
	if err := json.Unmarshal(env.Response, &r); err != nil {
		tb.Fatalf("decoding response %s: %v", env.Response, err)
	}
	if r.RequestID == "" {
		tb.Fatalf("response without RequestId: %s", data)
	}
	return r
}

// call sends params to service's action and returns the response.
func (c *testClient) call(service, action, params string) response {
	c.tb.Helper()
	return c.send(wireCall{service: service, action: action, params: params})
}

// mustCall is call that fails the test on an error response and decodes
// the response into out (if not nil).
func (c *testClient) mustCall(service, action, params string, out any) response {
	c.tb.Helper()
	r := c.call(service, action, params)
	if r.Error != nil {
		c.tb.Fatalf("%s.%s %s: %v", service, action, params, r.Error)
	}
	if out != nil {
		if err := json.Unmarshal(r.raw, out); err != nil {
			c.tb.Fatalf("decoding %s: %v", r.raw, err)
		}
	}
	return r
}

// field returns the value at a dotted path ("InstanceSet.0.InstanceState")
// of a response, printed with fmt.Sprint ("<nil>" for null, "[a b]" for
// lists, "<missing>" when absent).
func field(tb testing.TB, raw json.RawMessage, path string) string {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		tb.Fatalf("decoding %s: %v", raw, err)
	}
	for key := range strings.SplitSeq(path, ".") {
		switch node := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = node[key]; !ok {
				return "<missing>"
			}
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i >= len(node) {
				return "<missing>"
			}
			v = node[i]
		default:
			return "<missing>"
		}
	}
	return fmt.Sprint(v)
}
