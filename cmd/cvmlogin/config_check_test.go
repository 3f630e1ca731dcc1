package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// settings is a configuration file's content, section by section.
type settings map[string]map[string]any

// mustWriteConfig writes s as a YAML config file and returns its path.
func mustWriteConfig(t *testing.T, s settings) string {
	t.Helper()
	data, err := yaml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cvmlogin.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// closedLoopbackAddr returns a loopback address nothing listens on.
func closedLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// onlineWorld is what `config check --online` talks to in a test.
type onlineWorld struct {
	slack    *slackfake.Server
	sim      *tencentsim.Sim
	endpoint string
	redis    string
}

func newOnlineWorld(t *testing.T) *onlineWorld {
	t.Helper()
	w := &onlineWorld{slack: slackfake.New(t), sim: tencentsim.New(tencentsim.Options{}), redis: redistest.Addr(t)}
	endpoint, err := w.sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.sim.Close)
	w.endpoint = endpoint
	return w
}

// settings is a configuration under which every online check passes.
func (w *onlineWorld) settings() settings {
	return settings{
		"slack": {"mode": "socket", "bot_token": slackfake.BotToken, "app_token": slackfake.AppToken, "api_url": w.slack.URL()},
		"redis": {"addr": w.redis},
		"tencentcloud": {"endpoint": w.endpoint, "scheme": "http",
			"secret_id": tencentsim.TestSecretID, "secret_key": tencentsim.TestSecretKey},
		"approvals": {"approvers": []string{"U0APPROVER"}},
	}
}

func TestConfigCheckOnline(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(w *onlineWorld, s settings)
		wantCode int
		want     []string // lines (or parts of lines) of the output
	}{{
		name:     "all good",
		setup:    func(*onlineWorld, settings) {},
		wantCode: exitOK,
		want: []string{
			"Configuration: no problems found.",
			"ok    slack: auth.test: team slackfake (T0SLACKFAKE), bot user cvmlogin (U0CVMLOGIN)",
			"ok    slack: the bot token has every scope cvmlogin needs",
			"ok    slack: apps.connections.open",
			"ok    redis: PING answered at " + redistest.Addr(t),
			"ok    tencent: cvm:DescribeInstances allowed",
			"ok    tencent: vpc:DescribeAddresses allowed",
			"ok    tencent: monitor:GetMonitorData allowed",
			"ok    tencent: billing:DescribeAccountBalance allowed",
			"ok    tencent: tat:DescribeAutomationAgentStatus allowed",
			"ok    tencent: antiddos:DescribeBasicDeviceStatus allowed",
		},
	}, {
		name:     "missing bot token",
		setup:    func(_ *onlineWorld, s settings) { delete(s["slack"], "bot_token") },
		wantCode: exitUsage,
		want: []string{
			"critical  slack.bot_token: is empty",
			"FAIL  slack: not checked: slack.bot_token is empty; set it, or CVMLOGIN_SLACK_BOT_TOKEN, to the app's Bot User OAuth Token",
		},
	}, {
		name:     "wrong bot token",
		setup:    func(_ *onlineWorld, s settings) { s["slack"]["bot_token"] = "xoxb-not-the-right-one" },
		wantCode: exitFailed,
		want:     []string{"FAIL  slack: auth.test refused slack.bot_token (invalid_auth): set a valid token in slack.bot_token or CVMLOGIN_SLACK_BOT_TOKEN"},
	}, {
		name: "missing scope",
		setup: func(w *onlineWorld, _ settings) {
			w.slack.SetScopes("commands", "app_mentions:read", "chat:write", "usergroups:read", "channels:history", "groups:history", "channels:read")
		},
		wantCode: exitFailed,
		want: []string{
			"FAIL  slack: the bot token lacks the scopes files:write: add them to the app as in configs/slack-app-manifest.yaml, then reinstall it",
			"note  slack: the bot token also has scopes cvmlogin does not use (channels:read)",
		},
	}, {
		name:     "wrong app token",
		setup:    func(_ *onlineWorld, s settings) { s["slack"]["app_token"] = "xapp-not-the-right-one" },
		wantCode: exitFailed,
		want:     []string{"FAIL  slack: apps.connections.open refused slack.app_token (invalid_auth)"},
	}, {
		name:     "unreachable Redis",
		setup:    func(_ *onlineWorld, s settings) { s["redis"]["addr"] = closedLoopbackAddr(t) },
		wantCode: exitFailed,
		want:     []string{"FAIL  redis unreachable at 127.0.0.1:", "check redis.addr or CVMLOGIN_REDIS_ADDR"},
	}, {
		name: "denied Tencent permission",
		setup: func(w *onlineWorld, _ settings) {
			w.sim.SetFault("billing", "DescribeAccountBalance", "UnauthorizedOperation.CamNoAuth")
		},
		wantCode: exitFailed,
		want: []string{
			"FAIL  tencent: billing:DescribeAccountBalance denied (UnauthorizedOperation.CamNoAuth): grant it, see configs/cam-policy-diagnose.json",
			"ok    tencent: tat:DescribeAutomationAgentStatus allowed",
		},
	}, {
		name: "denied main check, guest and fix actions",
		setup: func(w *onlineWorld, _ settings) {
			w.sim.SetFault("vpc", "DescribeSecurityGroupPolicies", "UnauthorizedOperation")
			w.sim.SetFault("tat", "RunCommand", "UnauthorizedOperation.CamNoAuth")
			w.sim.SetFault("vpc", "CreateSecurityGroupPolicies", "AuthFailure.UnauthorizedOperation")
		},
		wantCode: exitFailed,
		want: []string{
			"FAIL  tencent: vpc:DescribeSecurityGroupPolicies denied (UnauthorizedOperation): grant it, see configs/cam-policy-diagnose.json",
			"FAIL  tencent: tat:RunCommand denied (UnauthorizedOperation.CamNoAuth): grant it, see configs/cam-policy-guest.json",
			"FAIL  tencent: vpc:CreateSecurityGroupPolicies denied (AuthFailure.UnauthorizedOperation): grant it, see configs/cam-policy-fix.json",
			"ok    tencent: vpc:DeleteSecurityGroupPolicies allowed",
			"ok    tencent: cvm:RebootInstances allowed",
			"ok    tencent: cvm:DescribeImages allowed",
			"ok    tencent: tat:DescribeInvocationTasks allowed",
		},
	}, {
		name: "features off: no guest or fix probes",
		setup: func(_ *onlineWorld, s settings) {
			delete(s, "approvals")
			s["diagnosis"] = map[string]any{"guest_checks": false}
		},
		wantCode: exitOK,
		want:     []string{"note  tencent: fix actions not checked: nobody can approve fixes"},
	}, {
		name:     "rejected Tencent credentials",
		setup:    func(_ *onlineWorld, s settings) { s["tencentcloud"]["secret_key"] = "not-the-right-secret-key" },
		wantCode: exitFailed,
		want:     []string{"FAIL  tencent: credentials rejected (AuthFailure.SignatureFailure): check tencentcloud.secret_id and tencentcloud.secret_key"},
	}, {
		name:     "unreachable Tencent Cloud",
		setup:    func(_ *onlineWorld, s settings) { s["tencentcloud"]["endpoint"] = closedLoopbackAddr(t) },
		wantCode: exitFailed,
		want:     []string{"FAIL  tencent: API unreachable (cvm:DescribeInstances: dial tcp 127.0.0.1:", "check the network, and tencentcloud.endpoint if set"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newOnlineWorld(t)
			s := w.settings()
			tt.setup(w, s)
			code, out, errOut := runCLI(t, "--config", mustWriteConfig(t, s), "config", "check", "--online")
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tt.wantCode, errOut)
			}
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if failures := strings.Count(out, "FAIL  "); (tt.wantCode == exitOK) != (failures == 0) {
				t.Errorf("%d failed checks with exit code %d:\n%s", failures, code, out)
			}
		})
	}
}

// TestConfigCheckSimulate checks the Tencent Cloud part against the
// in-process simulator, whatever the configured credentials.
func TestConfigCheckSimulate(t *testing.T) {
	w := newOnlineWorld(t)
	s := w.settings()
	delete(s, "tencentcloud")
	code, out, errOut := runCLI(t, "--config", mustWriteConfig(t, s), "config", "check", "--online", "--simulate")
	if code != exitOK {
		t.Fatalf("exit code %d; stdout:\n%s\nstderr: %s", code, out, errOut)
	}
	want := len(diagnoseProbes) + len(guestProbes) + len(fixProbes)
	if n := strings.Count(out, "ok    tencent: "); n != want {
		t.Errorf("%d Tencent Cloud checks passed, want %d:\n%s", n, want, out)
	}
}

// TestConfigCheckRedactsSecrets shows the configuration without a secret,
// with or without problems, and never touches the network without --online.
func TestConfigCheckRedactsSecrets(t *testing.T) {
	secrets := []string{"xoxb-1111-secret-bot-token", "xapp-2222-secret-app-token", "3333signingsecret", "4444-redis-password", "5555TencentSecretKey"}
	s := settings{
		"slack":        {"bot_token": secrets[0], "app_token": secrets[1], "signing_secret": secrets[2], "api_url": "http://" + closedLoopbackAddr(t) + "/"},
		"redis":        {"password": secrets[3], "url": "redis://:" + secrets[3] + "@127.0.0.1:6379/0"},
		"tencentcloud": {"secret_id": "AKIDexample", "secret_key": secrets[4], "scheme": "gopher"},
	}
	code, out, errOut := runCLI(t, "--config", mustWriteConfig(t, s), "config", "check")
	if code != exitUsage {
		t.Errorf("exit code %d, want %d (tencentcloud.scheme is invalid)", code, exitUsage)
	}
	for _, want := range []string{"bot_token: '*** REDACTED ***'", "critical  tencentcloud.scheme:", "warning   approvals.approvers:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Online checks") {
		t.Errorf("checked online without --online:\n%s", out)
	}
	for _, secret := range secrets {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("the output shows the secret %q:\n%s\n%s", secret, out, errOut)
		}
	}
}

// TestConfigCheckEmptyEnvCredentials: TENCENTCLOUD_SECRET_ID and _KEY set
// to "" (as Compose's env_file passes them) are treated as unset, so that the
// credentials profile file further down the SDK's chain is used.
func TestConfigCheckEmptyEnvCredentials(t *testing.T) {
	home := t.TempDir()
	profile := "[default]\nsecret_id = " + tencentsim.TestSecretID + "\nsecret_key = " + tencentsim.TestSecretKey + "\n"
	if err := os.MkdirAll(filepath.Join(home, ".tencentcloud"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".tencentcloud", "credentials"), []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("TENCENTCLOUD_SECRET_ID", "")
	t.Setenv("TENCENTCLOUD_SECRET_KEY", "")
	w := newOnlineWorld(t)
	s := w.settings()
	delete(s["tencentcloud"], "secret_id")
	delete(s["tencentcloud"], "secret_key")
	code, out, errOut := runCLI(t, "--config", mustWriteConfig(t, s), "config", "check", "--online")
	if code != exitOK || !strings.Contains(out, "ok    tencent: cvm:DescribeInstances allowed") {
		t.Errorf("exit code %d with the profile file's credentials; stdout:\n%s\nstderr: %s", code, out, errOut)
	}
}
