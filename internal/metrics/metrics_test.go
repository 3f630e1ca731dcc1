package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/internal/metrics"
	"github.com/cvmlogin/cvmlogin/internal/metrics/metricstest"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// mustServe serves m's handler on a loopback port and returns its URL.
func mustServe(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// wantValue fails t unless the series of name matching labels sum to want.
func wantValue(t *testing.T, f metricstest.Families, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := f.Value(name, labels...)
	if !ok {
		t.Errorf("%s%v: no such series", name, labels)
		return
	}
	if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

func report(findings ...diag.Finding) *diag.Report {
	r := &diag.Report{Target: "ins-abc12345", Findings: findings}
	r.Finish()
	return r
}

func finding(check diag.CheckID, status diag.Status, ms int64) diag.Finding {
	return diag.Finding{Check: check, Status: status, DurationMS: ms}
}

func TestDiagnosisResult(t *testing.T) {
	tests := []struct {
		name   string
		report *diag.Report
		err    error
		want   string
	}{
		{"a failure", report(finding(diag.CheckInstanceState, diag.StatusOK, 1), finding(diag.CheckSGLoginPort, diag.StatusFail, 1)), nil, metrics.ResultFail},
		{"a warning", report(finding(diag.CheckSGICMP, diag.StatusWarn, 1)), nil, metrics.ResultWarn},
		{"an unknown", report(finding(diag.CheckAccountArrears, diag.StatusUnknown, 1)), nil, metrics.ResultWarn},
		{"all ok or skipped", report(finding(diag.CheckInstanceState, diag.StatusOK, 1), finding(diag.CheckGuestDisk, diag.StatusSkipped, 0)), nil, metrics.ResultOK},
		{"lookup failed", report(finding(diag.CheckInstanceFound, diag.StatusUnknown, 1)), diag.ErrCouldNotRun, metrics.ResultCouldNotRun},
		{"no report", nil, diag.ErrCouldNotRun, metrics.ResultCouldNotRun},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := metrics.New()
			m.Diagnosis(tt.report, tt.err)
			f := metricstest.MustScrape(t, mustServe(t, m))
			wantValue(t, f, 1, "cvmlogin_diagnoses_total", "result", tt.want)
			wantValue(t, f, 1, "cvmlogin_diagnoses_total")
		})
	}
}

func TestDiagnosisChecks(t *testing.T) {
	m := metrics.New()
	r := report(
		finding(diag.CheckInstanceState, diag.StatusOK, 40),
		finding(diag.CheckSGLoginPort, diag.StatusFail, 1500),
		finding(diag.CheckGuestDisk, diag.StatusSkipped, 0),
	)
	r.APICalls = []diag.APICall{{Service: "cvm", Action: "DescribeInstances", DurationMS: 30}}
	m.Diagnosis(r, nil)
	m.Diagnosis(r, nil)
	f := metricstest.MustScrape(t, mustServe(t, m))

	wantValue(t, f, 2, "cvmlogin_check_findings_total", "check", "instance.state", "status", "ok")
	wantValue(t, f, 2, "cvmlogin_check_findings_total", "check", "security_group.login_port", "status", "fail")
	wantValue(t, f, 2, "cvmlogin_check_findings_total", "check", "guest.disk", "status", "skipped")
	wantValue(t, f, 2, "cvmlogin_check_duration_seconds", "check", "security_group.login_port")
	if n, _ := f.Value("cvmlogin_check_duration_seconds", "check", "guest.disk"); n != 0 {
		t.Error("a skipped check's duration was observed")
	}
	for _, series := range f["cvmlogin_check_duration_seconds"].GetMetric() {
		if series.GetLabel()[0].GetValue() == "security_group.login_port" && series.GetHistogram().GetSampleSum() != 3 {
			t.Errorf("security_group.login_port durations sum to %vs, want 3s", series.GetHistogram().GetSampleSum())
		}
	}
	if n, _ := f.Value("cvmlogin_tencent_api_calls_total"); n != 0 {
		t.Error("Diagnosis counted the report's API calls, which TencentCall counts")
	}
}

func TestTencentCall(t *testing.T) {
	m := metrics.New()
	m.TencentCall(diag.APICall{Service: "cvm", Action: "DescribeInstances", DurationMS: 120})
	m.TencentCall(diag.APICall{Service: "cvm", Action: "DescribeInstances", DurationMS: 80})
	m.TencentCall(diag.APICall{Service: "billing", Action: "DescribeAccountBalance", ErrorCode: "UnauthorizedOperation.CamNoAuth"})
	f := metricstest.MustScrape(t, mustServe(t, m))
	wantValue(t, f, 2, "cvmlogin_tencent_api_calls_total", "service", "cvm", "action", "DescribeInstances", "error_code", "none")
	wantValue(t, f, 1, "cvmlogin_tencent_api_calls_total", "service", "billing", "action", "DescribeAccountBalance", "error_code", "UnauthorizedOperation.CamNoAuth")
	wantValue(t, f, 2, "cvmlogin_tencent_api_call_duration_seconds", "service", "cvm", "action", "DescribeInstances")
}

func TestFixEventsAndAcks(t *testing.T) {
	m := metrics.New()
	m.FixEvent(string(diag.FixOpenAllPorts), diag.FixRequested)
	m.FixEvent(string(diag.FixOpenAllPorts), diag.FixApproved)
	m.AckObserver("http")("command", 30*time.Millisecond)
	m.AckObserver("socket")("interaction", 5*time.Millisecond)
	f := metricstest.MustScrape(t, mustServe(t, m))
	wantValue(t, f, 1, "cvmlogin_fix_requests_total", "action", "open_all_ports", "outcome", "requested")
	wantValue(t, f, 1, "cvmlogin_fix_requests_total", "action", "open_all_ports", "outcome", "approved")
	wantValue(t, f, 0, "cvmlogin_fix_requests_total", "action", "restart_instance", "outcome", "not_applicable")
	wantValue(t, f, 1, "cvmlogin_slack_ack_seconds", "transport", "http", "kind", "command")
	wantValue(t, f, 1, "cvmlogin_slack_ack_seconds", "transport", "socket", "kind", "interaction")
	wantValue(t, f, 0, "cvmlogin_slack_ack_seconds", "transport", "socket", "kind", "event")
}

func TestNewStartsKnownSeriesAtZero(t *testing.T) {
	f := metricstest.MustScrape(t, mustServe(t, metrics.New()))
	for _, result := range []string{"fail", "warn", "ok", "could_not_run"} {
		wantValue(t, f, 0, "cvmlogin_diagnoses_total", "result", result)
	}
	if got, want := len(f.Series("cvmlogin_fix_requests_total")), len(diag.FixActions)*8; got != want {
		t.Errorf("%d fix_requests_total series, want %d", got, want)
	}
	for _, family := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := f[family]; !ok {
			t.Errorf("%s is not collected", family)
		}
	}
}

func TestWatchQueue(t *testing.T) {
	m := metrics.New()
	depth, fail := int64(3), false
	m.WatchQueue(func(ctx context.Context) (int64, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the queue depth is read without a deadline")
		}
		if fail {
			return 0, errors.New("redis down")
		}
		return depth, nil
	})
	url := mustServe(t, m)
	f := metricstest.MustScrape(t, url)
	wantValue(t, f, 3, "cvmlogin_job_queue_depth")
	wantValue(t, f, 1, "cvmlogin_redis_up")
	fail = true
	f = metricstest.MustScrape(t, url)
	if got, _ := f.Value("cvmlogin_job_queue_depth"); got != 3 {
		t.Errorf("job_queue_depth = %v while Redis fails, want the last known 3", got)
	}
	wantValue(t, f, 0, "cvmlogin_redis_up")
}

// TestNewDeclaresEveryFamily: alerts can be written against every family
// before its first event.
func TestNewDeclaresEveryFamily(t *testing.T) {
	m := metrics.New()
	m.DeclareTencentActions("vpc:DescribeSecurityGroupPolicies")
	m.BuildInfo("v1.2.3", "abc1234")
	f := metricstest.MustScrape(t, mustServe(t, m))
	for _, family := range []string{
		"cvmlogin_diagnoses_total", "cvmlogin_diagnosis_duration_seconds", "cvmlogin_report_delivery_seconds", "cvmlogin_check_duration_seconds", "cvmlogin_check_findings_total",
		"cvmlogin_tencent_api_calls_total", "cvmlogin_tencent_api_call_duration_seconds", "cvmlogin_slack_api_calls_total",
		"cvmlogin_slack_api_rate_limited_total", "cvmlogin_slack_socket_connected", "cvmlogin_fix_requests_total",
		"cvmlogin_slack_ack_seconds", "cvmlogin_job_queue_depth", "cvmlogin_redis_up", "cvmlogin_build_info",
		"cvmlogin_reports_undelivered_total",
	} {
		if len(f.Series(family)) == 0 {
			t.Errorf("%s is not exposed before its first event", family)
		}
	}
	wantValue(t, f, 0, "cvmlogin_slack_api_rate_limited_total", "method", "chat.postMessage")
	wantValue(t, f, 0, "cvmlogin_tencent_api_calls_total", "action", "DescribeSecurityGroupPolicies", "error_code", "none")
	wantValue(t, f, 1, "cvmlogin_build_info", "version", "v1.2.3", "revision", "abc1234", "go_version", runtime.Version())
	wantValue(t, f, 0, "cvmlogin_slack_socket_connected")
	m.SocketConnected(true)
	wantValue(t, metricstest.MustScrape(t, mustServe(t, m)), 1, "cvmlogin_slack_socket_connected")
}

// TestReportUndelivered: each trigger's series starts at zero and counts
// the reports of that trigger that reached nobody.
func TestReportUndelivered(t *testing.T) {
	m := metrics.New()
	f := metricstest.MustScrape(t, mustServe(t, m))
	wantValue(t, f, 0, "cvmlogin_reports_undelivered_total", "trigger", metrics.TriggerAlarm)
	wantValue(t, f, 0, "cvmlogin_reports_undelivered_total", "trigger", metrics.TriggerUser)
	m.ReportUndelivered(metrics.TriggerAlarm)
	f = metricstest.MustScrape(t, mustServe(t, m))
	wantValue(t, f, 1, "cvmlogin_reports_undelivered_total", "trigger", metrics.TriggerAlarm)
	wantValue(t, f, 0, "cvmlogin_reports_undelivered_total", "trigger", metrics.TriggerUser)
}

func TestDiagnosisDuration(t *testing.T) {
	m := metrics.New()
	r := report(finding(diag.CheckSGLoginPort, diag.StatusFail, 1))
	r.DurationMS = 2500
	m.Diagnosis(r, nil)
	f := metricstest.MustScrape(t, mustServe(t, m))
	wantValue(t, f, 1, "cvmlogin_diagnosis_duration_seconds", "result", "fail")
	for _, series := range f["cvmlogin_diagnosis_duration_seconds"].GetMetric() {
		if series.GetHistogram().GetSampleCount() > 0 && series.GetHistogram().GetSampleSum() != 2.5 {
			t.Errorf("diagnosis durations sum to %vs, want 2.5s", series.GetHistogram().GetSampleSum())
		}
	}
}

// TestInstrumentSlackOKFalse: an HTTP 200 answer saying ok:false counts by
// its Slack error, and the caller still reads the whole answer.
func TestInstrumentSlackOKFalse(t *testing.T) {
	fake := slackfake.New(t)
	fake.Fail("chat.postMessage", "not_in_channel", 1)
	m := metrics.New()
	api := fake.Client(slack.OptionHTTPClient(&http.Client{Transport: m.InstrumentSlack(nil)}))
	_, _, err := api.PostMessageContext(context.Background(), "C0CHANNEL1", slack.MsgOptionText("hello", false))
	if err == nil || err.Error() != "not_in_channel" {
		t.Fatalf("PostMessage: %v, want not_in_channel", err)
	}
	if _, _, err := api.PostMessageContext(context.Background(), "C0CHANNEL1", slack.MsgOptionText("hello", false)); err != nil {
		t.Fatal(err)
	}
	f := metricstest.MustScrape(t, mustServe(t, m))
	wantValue(t, f, 1, "cvmlogin_slack_api_calls_total", "method", "chat.postMessage", "status", "not_in_channel")
	wantValue(t, f, 1, "cvmlogin_slack_api_calls_total", "method", "chat.postMessage", "status", "200")
}

func TestInstrumentSlackMethods(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/chat.update" {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer backend.Close()
	m := metrics.New()
	client := &http.Client{Transport: m.InstrumentSlack(nil)}
	for _, path := range []string{"/api/chat.postMessage", "/api/chat.postMessage", "/api/chat.update", "/upload/v1/ZXhhbXBsZQ", "/api/../weird/"} {
		resp, err := client.Post(backend.URL+path, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if _, err := client.Get(closed.URL + "/api/auth.test"); err == nil {
		t.Fatal("a request to a closed server succeeded")
	}

	f := metricstest.MustScrape(t, mustServe(t, m))
	wantValue(t, f, 2, "cvmlogin_slack_api_calls_total", "method", "chat.postMessage", "status", "200")
	wantValue(t, f, 1, "cvmlogin_slack_api_calls_total", "method", "chat.update", "status", "429")
	wantValue(t, f, 1, "cvmlogin_slack_api_rate_limited_total", "method", "chat.update")
	wantValue(t, f, 2, "cvmlogin_slack_api_calls_total", "method", "other")
	wantValue(t, f, 1, "cvmlogin_slack_api_calls_total", "method", "auth.test", "status", "error")
}

// TestInstrumentSlackCountsRetries puts the transport under slack-go the way
// serve does, and sees both the rate-limited attempt and its retry.
func TestInstrumentSlackCountsRetries(t *testing.T) {
	fake := slackfake.New(t)
	fake.RateLimit("chat.postMessage", 1, time.Millisecond) // Retry-After: 1 (second)
	m := metrics.New()
	api := fake.Client(
		slack.OptionHTTPClient(&http.Client{Transport: m.InstrumentSlack(nil)}),
		slack.OptionRetryConfig(slack.RetryConfig{MaxRetries: 1}),
	)
	if _, _, err := api.PostMessageContext(context.Background(), "C0CHANNEL1", slack.MsgOptionText("hello", false)); err != nil {
		t.Fatal(err)
	}
	f := metricstest.MustScrape(t, mustServe(t, m))
	wantValue(t, f, 1, "cvmlogin_slack_api_calls_total", "method", "chat.postMessage", "status", "429")
	wantValue(t, f, 1, "cvmlogin_slack_api_calls_total", "method", "chat.postMessage", "status", "200")
	wantValue(t, f, 1, "cvmlogin_slack_api_rate_limited_total", "method", "chat.postMessage")
}

func TestRefusalObserver(t *testing.T) {
	m := metrics.New()
	m.RefusalObserver("http")("interaction", "replay")
	m.RefusalObserver("http")("interaction", "replay")
	f := metricstest.MustScrape(t, mustServe(t, m))
	wantValue(t, f, 2, "cvmlogin_slack_requests_refused_total", "transport", "http", "kind", "interaction", "reason", "replay")
}
