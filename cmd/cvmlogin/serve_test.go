package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/configs"
	"github.com/cvmlogin/cvmlogin/internal/metrics/metricstest"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

func TestKnownRegion(t *testing.T) {
	cfg := &configs.Config{TencentCloud: configs.TencentCloud{Region: "ap-guangzhou", Regions: []string{"me-newregion"}}}
	known := knownRegion(cfg)
	for region, want := range map[string]bool{"ap-shanghai": true, "na-siliconvalley": true, "me-newregion": true, "ap-mars": false, "": false} {
		if got := known(region); got != want {
			t.Errorf("known(%q) = %v, want %v", region, got, want)
		}
	}
}

// TestServeExitsOnBadAppToken: Slack refusing the Socket Mode connection
// for good (invalid_auth) ends the process, non-zero and within 5 s, with a
// message naming the setting to fix, so that a supervisor restarts it
// rather than leaving it up but dead.
func TestServeExitsOnBadAppToken(t *testing.T) {
	fake := slackfake.New(t)
	rdb := redistest.New(t)
	cfg := mustWriteConfig(t, settings{
		"slack": {"mode": "socket", "bot_token": slackfake.BotToken, "app_token": "xapp-1-not-the-app-token", "api_url": fake.URL()},
		"http":  {"listen": "127.0.0.1:0"},
		"redis": {"addr": rdb.Options().Addr, "key_prefix": redistest.KeyPrefix(t, rdb)},
	})
	var stderr syncBuffer
	exited := make(chan int, 1)
	start := time.Now()
	go func() {
		exited <- run(context.Background(), []string{"--config", cfg, "serve", "--simulate"}, &bytes.Buffer{}, &stderr)
	}()
	select {
	case code := <-exited:
		if code == exitOK {
			t.Errorf("serve exited 0 after Slack refused the app token")
		}
		if !strings.Contains(stderr.String(), "slack.app_token") {
			t.Errorf("the exit message does not name slack.app_token:\n%s", stderr.String())
		}
		t.Logf("exited %d after %v:\n%s", code, time.Since(start), stderr.String())
	case <-time.After(5 * time.Second):
		t.Fatalf("serve still running 5 s after Slack refused the app token:\n%s", stderr.String())
	}
}

// TestServeMetricsListener: with metrics.listen, /metrics is served there
// and not on http.listen, and shows the build and the Socket Mode connection.
func TestServeMetricsListener(t *testing.T) {
	fake := slackfake.New(t)
	rdb := redistest.New(t)
	cfg := mustWriteConfig(t, settings{
		"slack":   {"mode": "socket", "bot_token": slackfake.BotToken, "app_token": slackfake.AppToken, "api_url": fake.URL()},
		"http":    {"listen": "127.0.0.1:0"},
		"metrics": {"listen": "127.0.0.1:0"},
		"redis":   {"addr": rdb.Options().Addr, "key_prefix": redistest.KeyPrefix(t, rdb)},
	})
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, []string{"--config", cfg, "serve", "--simulate"}, &bytes.Buffer{}, &logs) }()
	defer func() {
		cancel()
		if code := <-exited; code != exitOK {
			t.Errorf("serve exited %d:\n%s", code, logs.String())
		}
	}()
	addrOf := func(msg string) string {
		m := regexp.MustCompile(msg + `.*?addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(logs.String())
		if m == nil {
			return ""
		}
		return "http://" + m[1]
	}
	var main, separate string
	slackfake.WaitFor(t, func() bool {
		main, separate = addrOf("serving health and metrics"), addrOf(`"serving metrics"`)
		return main != "" && separate != ""
	}, 15*time.Second)
	if resp, err := http.Get(main + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("http.listen still serves /metrics: %v %v", resp, err)
	}
	slackfake.WaitFor(t, func() bool {
		v, _ := metricstest.MustScrape(t, separate+"/metrics").Value("cvmlogin_slack_socket_connected")
		return v == 1
	}, 10*time.Second)
	if _, ok := metricstest.MustScrape(t, separate+"/metrics").Value("cvmlogin_build_info", "go_version", runtime.Version()); !ok {
		t.Error("no cvmlogin_build_info")
	}
}

// TestAllowedTagsFromConfig: tencentcloud.allowed_tags reaches the
// diagnosis, which refuses an instance without one of the tags.
func TestAllowedTagsFromConfig(t *testing.T) {
	cfg := mustWriteConfig(t, settings{"tencentcloud": {"allowed_tags": []string{"cvmlogin=allowed"}}, "diagnosis": {"port_probe": false}})
	code, out, errOut := runCLI(t, "--config", cfg, "diagnose", "--simulate", "ins-linux001")
	if code != exitFailed || !strings.Contains(out, "tencentcloud.allowed_tags") {
		t.Errorf("exit %d; want %d and a refusal naming tencentcloud.allowed_tags:\n%s\n%s", code, exitFailed, out, errOut)
	}
}

// TestRunComponentsFatal: a component that stops by itself, even without an
// error (the job workers returning), cancels the others and is reported
// with its name; ctx being done is no error.
func TestRunComponentsFatal(t *testing.T) {
	stopped := make(chan struct{})
	blocking := component{"the HTTP listener", func(ctx context.Context) error {
		<-ctx.Done()
		close(stopped)
		return nil
	}}
	err := runComponents(context.Background(), discard(), blocking, component{"the job workers", func(context.Context) error { return nil }})
	if err == nil || !strings.Contains(err.Error(), "the job workers: stopped unexpectedly") {
		t.Errorf("runComponents = %v, want the job workers' unexpected stop", err)
	}
	select {
	case <-stopped:
	default:
		t.Error("the other component was not stopped")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := runComponents(ctx, discard(), component{"the HTTP listener", func(ctx context.Context) error { <-ctx.Done(); return nil }}); err != nil {
		t.Errorf("runComponents after ctx was done = %v, want nil", err)
	}
}

func TestBuildVersion(t *testing.T) {
	defer func(v, r string) { version, revision = v, r }(version, revision)
	version, revision = "v1.2.3", "0123abc"
	if got := buildVersion(); got != (buildInfo{"v1.2.3", "0123abc"}) {
		t.Errorf("with -ldflags values: %+v", got)
	}
	version, revision = "", ""
	if got := buildVersion(); got.version == "" || got.revision == "" {
		t.Errorf("without -ldflags values: %+v, want fallbacks", got)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
