package configs

import (
	"reflect"
	"strings"
	"testing"
)

// secretValues are the secrets TestRedaction and TestProblemsNeverShowSecrets
// set, each through its environment variable.
var secretValues = map[string]string{
	"CVMLOGIN_TENCENTCLOUD_SECRET_ID":  "AKIDsecretid0123456789",
	"CVMLOGIN_TENCENTCLOUD_SECRET_KEY": "secretkey-0123456789",
	"CVMLOGIN_SLACK_BOT_TOKEN":         "xoxb-secret-bot-token",
	"CVMLOGIN_SLACK_APP_TOKEN":         "xapp-secret-app-token",
	"CVMLOGIN_SLACK_SIGNING_SECRET":    "secret-signing-secret",
	"CVMLOGIN_REDIS_PASSWORD":          "secret-redis-password",
	"CVMLOGIN_REDIS_URL":               "redis://bot:secret-url-password@127.0.0.1:6379/1",
	"CVMLOGIN_ALARMS_TOKEN":            "secret-alarms-token",
}

// secretParts are the strings that must never be shown: every secret, with
// the URL's password on its own.
var secretParts = []string{
	"AKIDsecretid0123456789", "secretid", "secretkey-0123456789", "xoxb-secret-bot-token",
	"xapp-secret-app-token", "secret-signing-secret", "secret-redis-password", "secret-url-password",
	"secret-alarms-token",
}

func environOf(vars map[string]string) []string {
	var environ []string
	for name, value := range vars {
		environ = append(environ, name+"="+value)
	}
	return environ
}

func TestRedaction(t *testing.T) {
	cfg := MustLoad(t, LoadOptions{Environ: environOf(secretValues)})
	before := *cfg
	redacted := cfg.Redacted()

	got := []string{redacted.TencentCloud.SecretID, redacted.TencentCloud.SecretKey, redacted.Slack.BotToken,
		redacted.Slack.AppToken, redacted.Slack.SigningSecret, redacted.Redis.Password, redacted.Redis.URL, redacted.Alarms.Token}
	want := []string{"AKID…", RedactionMark, RedactionMark, RedactionMark, RedactionMark, RedactionMark,
		"redis://bot:" + RedactionMark + "@127.0.0.1:6379/1", RedactionMark}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("redacted secrets = %q, want %q", got, want)
	}
	if !reflect.DeepEqual(*cfg, before) {
		t.Errorf("Redacted modified the original")
	}

	out, err := cfg.YAML()
	if err != nil {
		t.Fatalf("YAML: %v", err)
	}
	for _, secret := range secretParts {
		if strings.Contains(string(out), secret) {
			t.Errorf("YAML() shows %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(string(out), "bot_token: '"+RedactionMark+"'") {
		t.Errorf("YAML() does not show bot_token as redacted:\n%s", out)
	}
}

func TestRedactedSharesNoSlices(t *testing.T) {
	cfg := MustLoad(t, LoadOptions{Environ: []string{
		"CVMLOGIN_TENCENTCLOUD_REGIONS=ap-beijing", "CVMLOGIN_REDIS_ADDRS=10.0.0.5:6379",
		"CVMLOGIN_APPROVALS_APPROVERS=U01", "CVMLOGIN_APPROVALS_APPROVER_GROUPS=S01",
		"CVMLOGIN_ACCESS_ALLOWED_CHANNELS=C01",
	}})
	r := cfg.Redacted()
	for _, s := range [][]string{r.TencentCloud.Regions, r.Redis.Addrs, r.Approvals.Approvers, r.Approvals.ApproverGroups, r.Access.AllowedChannels} {
		s[0] = "changed"
	}
	for _, s := range [][]string{cfg.TencentCloud.Regions, cfg.Redis.Addrs, cfg.Approvals.Approvers, cfg.Approvals.ApproverGroups, cfg.Access.AllowedChannels} {
		if s[0] == "changed" {
			t.Errorf("changing the redacted copy changed the original: %v", s)
		}
	}
}

func TestProblemsNeverShowSecrets(t *testing.T) {
	broken := map[string]string{
		"CVMLOGIN_TENCENTCLOUD_SECRET_ID": "AKIDsecretid0123456789",
		"CVMLOGIN_SLACK_MODE":             "http",
		"CVMLOGIN_SLACK_BOT_TOKEN":        "xoxp-secret-bot-token",
		"CVMLOGIN_SLACK_APP_TOKEN":        "xoxb-secret-app-token",
		"CVMLOGIN_REDIS_PASSWORD":         "secret-redis-password",
		"CVMLOGIN_REDIS_URL":              "ftp://bot:secret-url-password@127.0.0.1:6379/1",
	}
	for _, environ := range [][]string{environOf(secretValues), environOf(broken)} {
		problems := MustLoad(t, LoadOptions{Environ: environ}).ValidateFor(ForServe)
		for _, p := range problems {
			for _, secret := range append(secretParts, "secret-bot-token", "secret-app-token") {
				if strings.Contains(p.String(), secret) {
					t.Errorf("problem %q shows %q", p, secret)
				}
			}
		}
	}
}

func TestRedactKeepingPrefix(t *testing.T) {
	tests := map[string]string{
		"":                       "",
		"AKIDz8krbsJ5yKBZQpn74W": "AKID…",
		"AKID123":                RedactionMark,
		"密钥密钥密钥密钥":               "密钥密钥…",
	}
	for in, want := range tests {
		if got := redactKeepingPrefix(in); got != want {
			t.Errorf("redactKeepingPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactURLPassword(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://bot@127.0.0.1:6379", "redis://bot@127.0.0.1:6379"},
		{"redis://:pw@127.0.0.1:6379/0", "redis://:" + RedactionMark + "@127.0.0.1:6379/0"},
		{"rediss://bot:pw@redis.internal:6380/2?dial_timeout=3s", "rediss://bot:" + RedactionMark + "@redis.internal:6380/2?dial_timeout=3s"},
		{"redis://b%40t:p%40ss@127.0.0.1:6379", "redis://b%40t:" + RedactionMark + "@127.0.0.1:6379"},
		{"unix://:pw@/run/redis.sock?db=1", "unix://:" + RedactionMark + "@/run/redis.sock?db=1"},
		{"redis://:12#pw@127.0.0.1", RedactionMark},
		{"redis:pw@127.0.0.1", RedactionMark},
		{"redis://:pw@[::1", RedactionMark},
	}
	for _, tt := range tests {
		if got := redactURLPassword(tt.in); got != tt.want {
			t.Errorf("redactURLPassword(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestYAMLRoundTrips(t *testing.T) {
	cfg := MustLoad(t, LoadOptions{Environ: []string{
		"CVMLOGIN_TENCENTCLOUD_REGIONS=ap-beijing,ap-seoul", "CVMLOGIN_DIAGNOSIS_THRESHOLDS_CPU_PERCENT=80.5",
		"CVMLOGIN_APPROVALS_FOUR_EYES=false", "CVMLOGIN_APPROVALS_TTL=1h",
	}})
	out, err := cfg.YAML()
	if err != nil {
		t.Fatalf("YAML: %v", err)
	}
	reloaded := MustLoad(t, LoadOptions{File: MustWriteFile(t, string(out))})
	if !reflect.DeepEqual(reloaded, cfg) {
		t.Errorf("loading YAML() gives\n%+v\nwant\n%+v\nfrom\n%s", reloaded, cfg, out)
	}
}
