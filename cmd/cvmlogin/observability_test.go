package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cvmlogin/cvmlogin/bot/slackio"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
	"github.com/cvmlogin/cvmlogin/internal/metrics/metricstest"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// Secrets configured for the serve test, none of which may be logged.
const (
	e2eSecretID      = "AKIDe2eObservability01"
	e2eSecretKey     = "e2eTencentSecretKey7f3a91c0"
	e2eSigningSecret = "e2eSigningSecret5c1d0b77aa"
	e2eRedisPassword = "e2eRedisPassword9b2e44"
)

// syncBuffer is a log destination shared by the server's goroutines and the
// test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// mustRedisWithPassword starts a private Redis that requires password.
func mustRedisWithPassword(t *testing.T, password string) string {
	t.Helper()
	addr, _, _ := redistest.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.ConfigSet(context.Background(), "requirepass", password).Err(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// logField returns the value of key in a log line of format ("json" or
// "text"), or "".
func logField(t *testing.T, format, line, key string) string {
	t.Helper()
	if format == "json" {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
		s, _ := rec[key].(string)
		return s
	}
	m := regexp.MustCompile(`(?:^| )` + regexp.QuoteMeta(key) + `=("(?:[^"\\]|\\.)*"|\S+)`).FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	if unquoted, err := strconv.Unquote(m[1]); err == nil {
		return unquoted
	}
	return m[1]
}

// postSigned sends a Slack slash command to the bot, signed with secret.
func postSigned(t *testing.T, base, secret, text string) *http.Response {
	t.Helper()
	body := url.Values{"command": {"/cvm-login"}, "text": {text}, "user_id": {"U0REQUEST1"}, "channel_id": {"C0CHANNEL1"},
		"team_id": {slackfake.TeamID}, "response_url": {"http://127.0.0.1:9/response"}, "trigger_id": {"1.2.3"}}.Encode()
	req, err := http.NewRequest(http.MethodPost, base+"/slack/commands", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(slackio.HeaderTimestamp, ts)
	req.Header.Set(slackio.HeaderSignature, slackio.Sign(secret, ts, []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestServeObservability runs `serve` in HTTP mode at log level debug,
// against fake Slack, the simulator and a password-protected Redis, has it
// diagnose one instance from a signed slash command, and then checks
// /metrics, the diagnosis ID on the log lines, and that no secret was
// logged, in both log formats.
func TestServeObservability(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			fake := slackfake.New(t)
			fake.RateLimit("auth.test", 1, time.Millisecond) // retried by slack-go after a second
			sim := tencentsim.New(tencentsim.Options{Credentials: map[string]string{e2eSecretID: e2eSecretKey}})
			endpoint, err := sim.Start("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(sim.Close)
			cfg := mustWriteConfig(t, settings{
				"slack": {"mode": "http", "bot_token": slackfake.BotToken, "app_token": slackfake.AppToken,
					"signing_secret": e2eSigningSecret, "api_url": fake.URL()},
				"http":         {"listen": "127.0.0.1:0"},
				"redis":        {"addr": mustRedisWithPassword(t, e2eRedisPassword), "password": e2eRedisPassword},
				"tencentcloud": {"endpoint": endpoint, "scheme": "http", "secret_id": e2eSecretID, "secret_key": e2eSecretKey},
				"diagnosis":    {"port_probe": false},
				"approvals":    {"approvers": []string{"U0APPROVER"}},
				"log":          {"level": "debug", "format": format},
			})

			var logs syncBuffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			exited := make(chan int, 1)
			go func() { exited <- run(ctx, []string{"--config", cfg, "serve"}, &bytes.Buffer{}, &logs) }()

			listening := regexp.MustCompile(`serving health and metrics.*?addr"?[=:]"?(127\.0\.0\.1:\d+)`)
			var base string
			slackfake.WaitFor(t, func() bool { // the HTTP server listens
				m := listening.FindStringSubmatch(logs.String())
				if m != nil {
					base = "http://" + m[1]
				}
				return m != nil
			}, 15*time.Second)
			if resp := postSigned(t, base, "not-the-signing-secret", "ins-sgdrop01"); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("a badly signed command was answered %s", resp.Status)
			}
			if resp := postSigned(t, base, e2eSigningSecret, "ins-sgdrop01"); resp.StatusCode != http.StatusOK {
				t.Fatalf("the command was answered %s", resp.Status)
			}
			var f metricstest.Families
			slackfake.WaitFor(t, func() bool { // the diagnosis is counted; a scrape is not atomic across families
				f = metricstest.MustScrape(t, base+"/metrics")
				diagnoses, _ := f.Value("cvmlogin_diagnoses_total")
				findings, _ := f.Value("cvmlogin_check_findings_total")
				posted, _ := f.Value("cvmlogin_slack_api_calls_total", "method", "chat.postMessage", "status", "200") // the report follows the diagnosis
				return diagnoses == 1 && findings == float64(len(diag.CheckIDs)) && posted >= 1
			}, 30*time.Second)
			checkMetricFamilies(t, f)
			slackfake.WaitFor(t, func() bool { // the report's call log is in its thread
				return slices.ContainsFunc(fake.Messages("C0CHANNEL1"), func(m slackfake.Message) bool {
					return strings.Contains(m.Text, "*Cloud API calls:*")
				})
			}, 10*time.Second)

			cancel()
			select {
			case code := <-exited:
				if code != exitOK {
					t.Errorf("serve exited %d", code)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("serve did not stop")
			}
			checkLogs(t, format, logs.String())
		})
	}
}

// checkMetricFamilies checks that every family is scraped with the labels the
// diagnosis of ins-sgdrop01 (security group blocks the login port) implies.
func checkMetricFamilies(t *testing.T, f metricstest.Families) {
	t.Helper()
	type want struct {
		family string
		labels []string
		min    float64 // the matching series sum to at least this
	}
	for _, w := range []want{
		{"cvmlogin_diagnoses_total", []string{"result", "fail"}, 1},
		{"cvmlogin_check_findings_total", []string{"check", string(diag.CheckSGLoginPort), "status", "fail"}, 1},
		{"cvmlogin_check_findings_total", nil, float64(len(diag.CheckIDs))},
		{"cvmlogin_check_duration_seconds", []string{"check", string(diag.CheckInstanceFound)}, 1},
		{"cvmlogin_tencent_api_calls_total", []string{"service", "cvm", "action", "DescribeInstances", "error_code", "none"}, 1},
		{"cvmlogin_tencent_api_calls_total", []string{"service", "billing", "action", "DescribeAccountBalance"}, 1},
		{"cvmlogin_tencent_api_call_duration_seconds", []string{"service", "vpc", "action", "DescribeSecurityGroupPolicies"}, 1},
		{"cvmlogin_slack_api_calls_total", []string{"method", "auth.test", "status", "429"}, 1},
		{"cvmlogin_slack_api_calls_total", []string{"method", "auth.test", "status", "200"}, 1},
		{"cvmlogin_slack_api_calls_total", []string{"method", "chat.postMessage", "status", "200"}, 1},
		{"cvmlogin_slack_api_rate_limited_total", []string{"method", "auth.test"}, 1},
		{"cvmlogin_fix_requests_total", []string{"action", string(diag.FixOpenLoginPort), "outcome", "requested"}, 0},
		{"cvmlogin_slack_ack_seconds", []string{"transport", "http", "kind", "command"}, 2},
		{"cvmlogin_job_queue_depth", nil, 0},
		{"go_goroutines", nil, 1},
	} {
		got, ok := f.Value(w.family, w.labels...)
		if !ok || got < w.min || math.IsNaN(got) {
			t.Errorf("%s%v = %v (present: %t), want at least %v", w.family, w.labels, got, ok, w.min)
		}
	}
	for _, series := range f.Series("cvmlogin_check_findings_total") {
		if !slices.Contains(diag.CheckIDs, diag.CheckID(series["check"])) {
			t.Errorf("check_findings_total has check %q", series["check"])
		}
	}
}

// checkLogs checks that no secret was logged, and that the cloud adapter's
// lines carry the diagnosis ID the bot logged.
func checkLogs(t *testing.T, format, logs string) {
	t.Helper()
	for _, secret := range []string{e2eSecretKey, e2eSigningSecret, e2eRedisPassword, slackfake.BotToken, slackfake.AppToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log shows the secret %q", secret)
		}
	}
	var diagID string
	for line := range strings.Lines(logs) {
		if strings.Contains(line, "diagnosis finished") && strings.Contains(line, "likely_cause") {
			diagID = logField(t, format, line, "diag_id")
		}
	}
	if diagID == "" {
		t.Fatalf("no bot line says which diagnosis finished:\n%s", logs)
	}
	calls := 0
	for line := range strings.Lines(logs) {
		if !strings.Contains(line, "tencent cloud call") {
			continue
		}
		calls++
		if got := logField(t, format, line, "diag_id"); got != diagID {
			t.Errorf("adapter line with diag_id %q, want %q: %s", got, diagID, line)
		}
	}
	if calls == 0 {
		t.Errorf("no adapter debug line at log level debug:\n%s", logs)
	}
}
