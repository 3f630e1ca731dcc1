package bot

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

// fakeStarter records the alarms it is asked to start.
type fakeStarter struct {
	mu     sync.Mutex
	alarms []Alarm
	err    error
}

func (f *fakeStarter) StartAlarm(_ context.Context, a Alarm, admit func() bool) (AlarmResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return AlarmResult{}, f.err
	}
	if !admit() {
		return AlarmResult{}, ErrAlarmThrottled
	}
	f.alarms = append(f.alarms, a)
	return AlarmResult{Status: AlarmQueued}, nil
}

const testAlarmToken = "alarm-token-s3cr3t"

func alarmServer(t *testing.T, starter AlarmStarter, opts AlarmOptions) *httptest.Server {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testAlarmToken
	}
	mux := http.NewServeMux()
	NewAlarmHandler(starter, opts).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func postAlarm(t *testing.T, url, token, body string) (int, AlarmResult) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set(AlarmTokenHeader, token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res AlarmResult
	_ = json.NewDecoder(resp.Body).Decode(&res)
	return resp.StatusCode, res
}

func TestTencentAlarmCallbackStartsDiagnosis(t *testing.T) {
	body, err := os.ReadFile("testdata/alarms/tencent-cpu.json")
	if err != nil {
		t.Fatal(err)
	}
	starter := &fakeStarter{}
	srv := alarmServer(t, starter, AlarmOptions{PolicyChannels: map[string]string{"policy-n4exeh88": "C0ALARMS"}})
	// Tencent's callback cannot send headers: the token rides in the URL.
	code, res := postAlarm(t, srv.URL+AlarmPathTencent+"?token="+testAlarmToken, "", string(body))
	if code != http.StatusAccepted || res.Status != AlarmQueued {
		t.Fatalf("got %d %+v, want 202 queued", code, res)
	}
	got := starter.alarms[0]
	want := Alarm{InstanceID: "ins-o9p3rg3m", Region: "ap-guangzhou", Channel: "C0ALARMS", PolicyID: "policy-n4exeh88",
		Summary: `Cloud Monitor alarm "web-cpu": CPU utilization > 90% (now 97%) since 2026-11-28 12:18:31`}
	if got != want {
		t.Errorf("alarm\n got %+v\nwant %+v", got, want)
	}
}

func TestAlarmEndpointsRefuse(t *testing.T) {
	tencent := func(mutate func(m map[string]any)) string {
		var m map[string]any
		b, _ := os.ReadFile("testdata/alarms/tencent-cpu.json")
		_ = json.Unmarshal(b, &m)
		mutate(m)
		out, _ := json.Marshal(m)
		return string(out)
	}
	tests := []struct {
		name, path, token, body string
		wantCode                int
		wantStatus              string
	}{
		{"no token", AlarmPathWebhook, "", `{"instance_id":"ins-abc12345"}`, http.StatusUnauthorized, "refused"},
		{"wrong token", AlarmPathWebhook, "nope", `{"instance_id":"ins-abc12345"}`, http.StatusUnauthorized, "refused"},
		{"token prefix", AlarmPathWebhook, testAlarmToken[:5], `{"instance_id":"ins-abc12345"}`, http.StatusUnauthorized, "refused"},
		{"not an instance", AlarmPathWebhook, testAlarmToken, `{"instance_id":"rm -rf /"}`, http.StatusUnprocessableEntity, "refused"},
		{"unknown field", AlarmPathWebhook, testAlarmToken, `{"instance_id":"ins-abc12345","fix":"restart_instance"}`, http.StatusUnprocessableEntity, "refused"},
		{"bad region", AlarmPathWebhook, testAlarmToken, `{"instance_id":"ins-abc12345","region":"ap mars"}`, http.StatusUnprocessableEntity, "refused"},
		{"oversized", AlarmPathWebhook, testAlarmToken, `{"instance_id":"` + strings.Repeat("a", maxAlarmBody) + `"}`, http.StatusRequestEntityTooLarge, "refused"},
		{"resolved", AlarmPathTencent, testAlarmToken, tencent(func(m map[string]any) { m["alarmStatus"] = 0 }), http.StatusOK, AlarmIgnored},
		{"not json", AlarmPathTencent, testAlarmToken, `<xml/>`, http.StatusUnprocessableEntity, "refused"},
		{"no instance dimension", AlarmPathTencent, testAlarmToken, tencent(func(m map[string]any) {
			m["alarmObjInfo"].(map[string]any)["dimensions"] = map[string]any{"vip": "10.0.0.1"}
		}), http.StatusUnprocessableEntity, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			starter := &fakeStarter{}
			srv := alarmServer(t, starter, AlarmOptions{})
			code, res := postAlarm(t, srv.URL+tt.path, tt.token, tt.body)
			if code != tt.wantCode || res.Status != tt.wantStatus {
				t.Errorf("got %d %+v, want %d %s", code, res, tt.wantCode, tt.wantStatus)
			}
			if len(starter.alarms) != 0 {
				t.Errorf("a refused alarm started %+v", starter.alarms)
			}
		})
	}
}

func TestWebhookAlarm(t *testing.T) {
	starter := &fakeStarter{}
	srv := alarmServer(t, starter, AlarmOptions{})
	code, _ := postAlarm(t, srv.URL+AlarmPathWebhook, testAlarmToken, `{"instance_id":"ins-abc12345","region":"ap-shanghai","channel":"C123"}`)
	if code != http.StatusAccepted {
		t.Fatalf("got %d, want 202", code)
	}
	want := Alarm{InstanceID: "ins-abc12345", Region: "ap-shanghai", Channel: "C123", Summary: "webhook alarm"}
	if starter.alarms[0] != want {
		t.Errorf("alarm %+v, want %+v", starter.alarms[0], want)
	}
}

func TestAlarmStormIsRateLimited(t *testing.T) {
	starter := &fakeStarter{}
	srv := alarmServer(t, starter, AlarmOptions{Rate: 0.001, Burst: 3})
	var limited int
	for range 5 {
		if code, _ := postAlarm(t, srv.URL+AlarmPathWebhook, testAlarmToken, `{"instance_id":"ins-abc12345"}`); code == http.StatusTooManyRequests {
			limited++
		}
	}
	if len(starter.alarms) != 3 || limited != 2 {
		t.Errorf("started %d and limited %d of 5, want 3 and 2", len(starter.alarms), limited)
	}
}

func TestAlarmStartFailureIsRetryable(t *testing.T) {
	srv := alarmServer(t, &fakeStarter{err: errors.New("redis down")}, AlarmOptions{})
	if code, res := postAlarm(t, srv.URL+AlarmPathWebhook, testAlarmToken, `{"instance_id":"ins-abc12345"}`); code != http.StatusServiceUnavailable || strings.Contains(res.Message, "redis") {
		t.Errorf("got %d %+v, want 503 without internals", code, res)
	}
}

func TestAlarmEndpointsOffWithoutToken(t *testing.T) {
	mux := http.NewServeMux()
	NewAlarmHandler(&fakeStarter{}, AlarmOptions{}).Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, AlarmPathWebhook, strings.NewReader(`{}`)))
	if rec.Code != http.StatusNotFound {
		t.Errorf("got %d, want 404 when alarms.token is not set", rec.Code)
	}
}

func TestTencentRegion(t *testing.T) {
	for in, want := range map[string]string{"gz": "ap-guangzhou", "ap-shanghai": "ap-shanghai", "SH": "ap-shanghai", "mars": "", "": ""} {
		if got := tencentRegion(in); got != want {
			t.Errorf("tencentRegion(%q) = %q, want %q", in, got, want)
		}
	}
}

// fakeTagger answers tags, or err, and counts the lookups.
type fakeTagger struct {
	tags  map[string]string
	err   error
	calls int
}

func (f *fakeTagger) InstanceTags(_ context.Context, _, _ string) (map[string]string, error) {
	f.calls++
	return f.tags, f.err
}

// TestAlarmRouting: an alarm goes to the channel the webhook names, else its
// policy's, else the first tag route (sorted) its instance matches, else
// the default alarm channel (""); the tags are read only when they decide,
// and a lookup that fails says so in the alarm's summary.
func TestAlarmRouting(t *testing.T) {
	policies := map[string]string{"policy-web": "C0POLICY"}
	tagRoutes := map[string]string{"env=prod": "C0PROD", "team=web": "C0WEB"}
	prod := map[string]string{"Env": "Prod", "team": "db"}
	tests := []struct {
		name        string
		alarm       Alarm
		tagRoutes   map[string]string
		tagger      *fakeTagger
		wantChannel string
		wantNote    string // the end of the summary
		wantLookups int
	}{
		{"webhook channel first", Alarm{Channel: "C0NAMED", PolicyID: "policy-web"}, tagRoutes, &fakeTagger{tags: prod}, "C0NAMED", "alarm", 0},
		{"policy before tags", Alarm{PolicyID: "policy-web"}, tagRoutes, &fakeTagger{tags: prod}, "C0POLICY", "alarm", 0},
		{"tag, case aside", Alarm{PolicyID: "policy-other"}, tagRoutes, &fakeTagger{tags: prod}, "C0PROD", "alarm · routed here by its tag Env=Prod", 1},
		{"first tag route in sorted order", Alarm{}, tagRoutes, &fakeTagger{tags: map[string]string{"team": "web", "env": "prod"}}, "C0PROD", "routed here by its tag env=prod", 1},
		{"no tag matches: default", Alarm{}, tagRoutes, &fakeTagger{tags: map[string]string{"env": "staging"}}, "", "alarm", 1},
		{"untagged instance: default", Alarm{}, tagRoutes, &fakeTagger{}, "", "alarm", 1},
		{"tags unreadable: default, said", Alarm{}, tagRoutes, &fakeTagger{err: errors.New("cvm:DescribeInstances: InternalError")}, "",
			"alarm · its tags could not be read (cvm:DescribeInstances: InternalError), so it went to the default alarm channel", 1},
		{"no tag routes: no lookup", Alarm{}, nil, &fakeTagger{tags: prod}, "", "alarm", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewAlarmHandler(&fakeStarter{}, AlarmOptions{PolicyChannels: policies, TagChannels: tc.tagRoutes, Tags: tc.tagger})
			tc.alarm.InstanceID, tc.alarm.Summary = "ins-abc12345", "alarm"
			got := h.route(t.Context(), tc.alarm)
			if got.Channel != tc.wantChannel || !strings.HasSuffix(got.Summary, tc.wantNote) || tc.tagger.calls != tc.wantLookups {
				t.Errorf("channel %q, summary %q, %d lookups; want %q, …%q, %d", got.Channel, got.Summary, tc.tagger.calls, tc.wantChannel, tc.wantNote, tc.wantLookups)
			}
		})
	}
	h := NewAlarmHandler(&fakeStarter{}, AlarmOptions{TagChannels: tagRoutes})
	if got := h.route(t.Context(), Alarm{InstanceID: "ins-abc12345"}); got.Channel != "" {
		t.Errorf("without a tag reader the alarm went to %q", got.Channel)
	}
}

// TestAlarmHeaderGolden pins the report's header line of a Cloud Monitor
// alarm routed by tag, and of one whose tags could not be read, as the
// worker shows an alarm's summary (":rotating_light: " and the escaped
// trigger, in the report's note).
func TestAlarmHeaderGolden(t *testing.T) {
	body, err := os.ReadFile("testdata/alarms/tencent-cpu.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, tagger := range map[string]*fakeTagger{
		"tag routed":      {tags: map[string]string{"env": "prod"}},
		"tags unreadable": {err: errors.New("reading the tags of ins-o9p3rg3m in ap-guangzhou: cvm:DescribeInstances: InternalError")},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := parseTencentAlarm(body)
			if err != nil {
				t.Fatal(err)
			}
			a = NewAlarmHandler(&fakeStarter{}, AlarmOptions{TagChannels: map[string]string{"env=prod": "C0PROD"}, Tags: tagger}).route(t.Context(), a)
			r := securityGroupBlocks22()
			view := ReportView{Report: r, Final: true, Buttons: buttonValues(ButtonsFor(r)), Note: ":rotating_light: " + escapeMrkdwn(a.Summary)}
			blocks := RenderReport(view)
			got := marshalMessage(t, message{Text: ReportFallbackText(r), Blocks: blocks})
			assertGolden(t, got, ".golden.json")
			assertSlackParses(t, got, len(blocks))
		})
	}
}
