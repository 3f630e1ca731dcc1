package configs

import (
	"strings"
	"testing"
	"time"
)

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantKey string // "" when the edit is valid
		wantMsg string // part of the problem's message
	}{
		{name: "region", edit: func(c *Config) { c.TencentCloud.Region = "ap-hongkong" }},
		{name: "region with suffix", edit: func(c *Config) { c.TencentCloud.Region = "ap-shanghai-fsi" }},
		{name: "region capitalised", edit: func(c *Config) { c.TencentCloud.Region = "Guangzhou" }, wantKey: "tencentcloud.region", wantMsg: `"Guangzhou" is not a region ID`},
		{name: "region underscore", edit: func(c *Config) { c.TencentCloud.Region = "ap_guangzhou" }, wantKey: "tencentcloud.region", wantMsg: `"ap_guangzhou"`},
		{name: "region empty", edit: func(c *Config) { c.TencentCloud.Region = "" }, wantKey: "tencentcloud.region", wantMsg: `""`},
		{name: "regions", edit: func(c *Config) { c.TencentCloud.Regions = []string{"ap-beijing", "na-siliconvalley"} }},
		{name: "regions item", edit: func(c *Config) { c.TencentCloud.Regions = []string{"ap-beijing", "beijing"} }, wantKey: "tencentcloud.regions[1]", wantMsg: `"beijing"`},
		{name: "endpoint", edit: func(c *Config) { c.TencentCloud.Endpoint = "cvm.internal.example.com" }},
		{name: "endpoint with scheme", edit: func(c *Config) { c.TencentCloud.Endpoint = "https://127.0.0.1:9000" }, wantKey: "tencentcloud.endpoint", wantMsg: "without scheme or path"},
		{name: "scheme unknown", edit: func(c *Config) { c.TencentCloud.Scheme = "ftp" }, wantKey: "tencentcloud.scheme", wantMsg: `"ftp" is not one of "https", "http"`},
		{name: "http to 127.0.0.1", edit: httpEndpoint("127.0.0.1:9000")},
		{name: "http to 127/8", edit: httpEndpoint("127.8.9.10")},
		{name: "http to localhost", edit: httpEndpoint("localhost:9000")},
		{name: "http to ::1", edit: httpEndpoint("[::1]:9000")},
		{name: "http to bare ::1", edit: httpEndpoint("::1")},
		{name: "http to public host", edit: httpEndpoint("example.com"), wantKey: "tencentcloud.scheme",
			wantMsg: `"http" is only allowed with a loopback endpoint (tencentcloud.endpoint is "example.com")`},
		{name: "http to private address", edit: httpEndpoint("10.0.0.1:9000"), wantKey: "tencentcloud.scheme", wantMsg: `"10.0.0.1:9000"`},
		{name: "http to localhost lookalike", edit: httpEndpoint("localhost.example.com"), wantKey: "tencentcloud.scheme", wantMsg: "loopback"},
		{name: "http without endpoint", edit: httpEndpoint(""), wantKey: "tencentcloud.scheme", wantMsg: `(tencentcloud.endpoint is "")`},
		{name: "credentials pair", edit: func(c *Config) { c.TencentCloud.SecretID, c.TencentCloud.SecretKey = "AKIDexample1", "key" }},
		{name: "secret_key missing", edit: func(c *Config) { c.TencentCloud.SecretID = "AKIDexample1" }, wantKey: "tencentcloud.secret_key", wantMsg: "TENCENTCLOUD_SECRET_KEY"},
		{name: "secret_id missing", edit: func(c *Config) { c.TencentCloud.SecretKey = "key" }, wantKey: "tencentcloud.secret_id", wantMsg: "CVMLOGIN_TENCENTCLOUD_SECRET_ID"},
		{name: "slack http mode", edit: func(c *Config) { c.Slack.Mode = "http" }},
		{name: "slack mode unknown", edit: func(c *Config) { c.Slack.Mode = "websocket" }, wantKey: "slack.mode", wantMsg: `"websocket"`},
		{name: "bot token", edit: func(c *Config) { c.Slack.BotToken = "xoxb-1-2-abc" }},
		{name: "bot token of a user", edit: func(c *Config) { c.Slack.BotToken = "xoxp-1-2-abc" }, wantKey: "slack.bot_token", wantMsg: `does not start with "xoxb-"`},
		{name: "app token", edit: func(c *Config) { c.Slack.AppToken = "xapp-1-abc" }},
		{name: "app token swapped", edit: func(c *Config) { c.Slack.AppToken = "xoxb-1-abc" }, wantKey: "slack.app_token", wantMsg: "CVMLOGIN_SLACK_APP_TOKEN"},
		{name: "api url", edit: func(c *Config) { c.Slack.APIURL = "http://127.0.0.1:4390/api/" }},
		{name: "api url without scheme", edit: func(c *Config) { c.Slack.APIURL = "127.0.0.1:4390" }, wantKey: "slack.api_url", wantMsg: `"127.0.0.1:4390"`},
		{name: "listen on loopback", edit: func(c *Config) { c.HTTP.Listen = "127.0.0.1:8080" }},
		{name: "listen on any port", edit: func(c *Config) { c.HTTP.Listen = ":0" }},
		{name: "listen without colon", edit: func(c *Config) { c.HTTP.Listen = "8080" }, wantKey: "http.listen", wantMsg: `"8080"`},
		{name: "listen port out of range", edit: func(c *Config) { c.HTTP.Listen = ":99999" }, wantKey: "http.listen", wantMsg: `":99999"`},
		{name: "redis addr", edit: func(c *Config) { c.Redis.Addr = "redis.internal:6379" }},
		{name: "redis addr without host", edit: func(c *Config) { c.Redis.Addr = ":6379" }, wantKey: "redis.addr", wantMsg: "host:port"},
		{name: "redis addr without port", edit: func(c *Config) { c.Redis.Addr = "localhost" }, wantKey: "redis.addr", wantMsg: `"localhost"`},
		{name: "redis addrs", edit: func(c *Config) { c.Redis.Addrs = []string{"10.0.0.5:6379", "10.0.0.6:6379"} }},
		{name: "redis addrs item", edit: func(c *Config) { c.Redis.Addrs = []string{"10.0.0.5:6379", "10.0.0.6"} }, wantKey: "redis.addrs[1]", wantMsg: `"10.0.0.6"`},
		{name: "redis url", edit: func(c *Config) { c.Redis.URL = "redis://:pw@127.0.0.1:6379/2" }},
		{name: "rediss url", edit: func(c *Config) { c.Redis.URL = "rediss://redis.internal:6380" }},
		{name: "unix url", edit: func(c *Config) { c.Redis.URL = "unix:///run/redis.sock?db=1" }},
		{name: "redis url of another scheme", edit: func(c *Config) { c.Redis.URL = "http://127.0.0.1:6379" }, wantKey: "redis.url", wantMsg: "redis://"},
		{name: "redis url without scheme", edit: func(c *Config) { c.Redis.URL = "127.0.0.1:6379" }, wantKey: "redis.url", wantMsg: "redis://"},
		{name: "redis db", edit: func(c *Config) { c.Redis.DB = 15 }},
		{name: "redis db negative", edit: func(c *Config) { c.Redis.DB = -1 }, wantKey: "redis.db", wantMsg: "(is -1)"},
		{name: "key prefix empty", edit: func(c *Config) { c.Redis.KeyPrefix = "" }, wantKey: "redis.key_prefix", wantMsg: "must not be empty"},
		{name: "timeout zero", edit: func(c *Config) { c.Diagnosis.Timeout = 0 }, wantKey: "diagnosis.timeout", wantMsg: "(is 0s)"},
		{name: "timeout negative", edit: func(c *Config) { c.Diagnosis.Timeout = -time.Second }, wantKey: "diagnosis.timeout", wantMsg: "(is -1s)"},
		{name: "check timeout zero", edit: func(c *Config) { c.Diagnosis.CheckTimeout = 0 }, wantKey: "diagnosis.check_timeout", wantMsg: "more than zero"},
		{name: "probe timeout zero", edit: func(c *Config) { c.Diagnosis.ProbeTimeout = 0 }, wantKey: "diagnosis.probe_timeout", wantMsg: "more than zero"},
		{name: "guest timeout zero", edit: func(c *Config) { c.Diagnosis.GuestTimeout = 0 }, wantKey: "diagnosis.guest_timeout", wantMsg: "more than zero"},
		{name: "window zero", edit: func(c *Config) { c.Diagnosis.Thresholds.Window = 0 }, wantKey: "diagnosis.thresholds.window", wantMsg: "more than zero"},
		{name: "percent 100", edit: func(c *Config) { c.Diagnosis.Thresholds.CPUPercent = 100 }},
		{name: "percent fraction", edit: func(c *Config) { c.Diagnosis.Thresholds.MemoryPercent = 0.5 }},
		{name: "cpu percent zero", edit: func(c *Config) { c.Diagnosis.Thresholds.CPUPercent = 0 }, wantKey: "diagnosis.thresholds.cpu_percent", wantMsg: "(is 0)"},
		{name: "memory percent over", edit: func(c *Config) { c.Diagnosis.Thresholds.MemoryPercent = 100.5 }, wantKey: "diagnosis.thresholds.memory_percent", wantMsg: "(is 100.5)"},
		{name: "bandwidth percent negative", edit: func(c *Config) { c.Diagnosis.Thresholds.BandwidthPercent = -5 }, wantKey: "diagnosis.thresholds.bandwidth_percent", wantMsg: "(is -5)"},
		{name: "disk percent over", edit: func(c *Config) { c.Diagnosis.Thresholds.DiskPercent = 150 }, wantKey: "diagnosis.thresholds.disk_percent", wantMsg: "at most 100"},
		{name: "approvers", edit: func(c *Config) { c.Approvals.Approvers = []string{"U012AB3CD", "W0123"} }},
		{name: "approver name", edit: func(c *Config) { c.Approvals.Approvers = []string{"U012AB3CD", "alice"} }, wantKey: "approvals.approvers[1]", wantMsg: `"alice" is not a Slack user ID`},
		{name: "approver lower case", edit: func(c *Config) { c.Approvals.Approvers = []string{"u012ab3cd"} }, wantKey: "approvals.approvers[0]", wantMsg: "user ID"},
		{name: "approver groups", edit: func(c *Config) { c.Approvals.ApproverGroups = []string{"S012AB3CD"} }},
		{name: "approver group of a user", edit: func(c *Config) { c.Approvals.ApproverGroups = []string{"U012AB3CD"} }, wantKey: "approvals.approver_groups[0]", wantMsg: "user-group ID"},
		{name: "ttl one minute", edit: func(c *Config) { c.Approvals.TTL = time.Minute }},
		{name: "ttl too short", edit: func(c *Config) { c.Approvals.TTL = 59 * time.Second }, wantKey: "approvals.ttl", wantMsg: "at least 1m0s (is 59s)"},
		{name: "channels", edit: func(c *Config) { c.Access.AllowedChannels = []string{"C012AB3CD", "G0123", "D0123"} }},
		{name: "channel name", edit: func(c *Config) { c.Access.AllowedChannels = []string{"#incidents"} }, wantKey: "access.allowed_channels[0]", wantMsg: `"#incidents" is not a Slack channel ID`},
		{name: "audit length", edit: func(c *Config) { c.Audit.MaxLength = 5000 }},
		{name: "audit length too small", edit: func(c *Config) { c.Audit.MaxLength = 10 }, wantKey: "audit.max_length", wantMsg: "too small"},
		{name: "audit age zero", edit: func(c *Config) { c.Audit.MaxAge = 0 }, wantKey: "audit.max_age", wantMsg: "more than zero"},
		{name: "log level", edit: func(c *Config) { c.Log.Level = "debug" }},
		{name: "log level unknown", edit: func(c *Config) { c.Log.Level = "trace" }, wantKey: "log.level", wantMsg: `"trace" is not one of "debug", "info", "warn", "error"`},
		{name: "log format", edit: func(c *Config) { c.Log.Format = "json" }},
		{name: "log format unknown", edit: func(c *Config) { c.Log.Format = "yaml" }, wantKey: "log.format", wantMsg: `"yaml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := MustLoad(t, LoadOptions{})
			tt.edit(cfg)
			problems := cfg.Validate()
			if tt.wantKey == "" {
				if problems != nil {
					t.Errorf("Validate() = %q, want none", problems)
				}
				return
			}
			if len(problems) != 1 {
				t.Fatalf("Validate() = %q, want one problem with %s", problems, tt.wantKey)
			}
			assertProblem(t, problems[0], Critical, tt.wantKey, tt.wantMsg)
		})
	}
}

// httpEndpoint returns an edit that selects plain HTTP to endpoint.
func httpEndpoint(endpoint string) func(*Config) {
	return func(c *Config) {
		c.TencentCloud.Scheme = "http"
		c.TencentCloud.Endpoint = endpoint
	}
}

func assertProblem(tb testing.TB, p Problem, severity Level, key, msg string) {
	tb.Helper()
	if p.Key != key || p.Severity != severity {
		tb.Errorf("problem = %v %q, want a %v for %s", p.Severity, p, severity, key)
	}
	if !strings.HasPrefix(p.String(), key+": ") || !strings.Contains(p.Message, msg) {
		tb.Errorf("problem %q does not start with %q and contain %q", p, key+": ", msg)
	}
}

func TestProblemString(t *testing.T) {
	cfg := MustLoad(t, LoadOptions{})
	httpEndpoint("example.com")(cfg)
	problems := cfg.Validate()
	const want = `tencentcloud.scheme: "http" is only allowed with a loopback endpoint (tencentcloud.endpoint is "example.com")`
	if len(problems) != 1 || problems[0].String() != want {
		t.Errorf("Validate() = %q, want [%q]", problems, want)
	}
}

func TestValidateFor(t *testing.T) {
	type want struct {
		severity Level
		key, msg string
	}
	withSlack := func(mode, botToken, appToken, signingSecret string) func(*Config) {
		return func(c *Config) {
			c.Slack = Slack{Mode: mode, BotToken: botToken, AppToken: appToken, SigningSecret: signingSecret}
			c.Approvals.Approvers = []string{"U012AB3CD"}
		}
	}
	tests := []struct {
		name    string
		purpose Purpose
		edit    func(*Config)
		want    []want
	}{
		{name: "diagnose needs no Slack", purpose: ForDiagnose, edit: func(*Config) {}},
		{name: "serve with nothing", purpose: ForServe, edit: func(*Config) {}, want: []want{
			{Critical, "slack.bot_token", "is empty: set CVMLOGIN_SLACK_BOT_TOKEN (or slack.bot_token in the config file) to the Bot User OAuth Token (xoxb-…), from your app's page at https://api.slack.com/apps → OAuth & Permissions"},
			{Critical, "slack.app_token", "is empty: set CVMLOGIN_SLACK_APP_TOKEN"},
			{Warning, "approvals.approvers", "nobody can approve fixes"},
		}},
		{name: "serve socket", purpose: ForServe, edit: withSlack("socket", "xoxb-1", "xapp-1", "")},
		{name: "serve socket without app token", purpose: ForServe, edit: withSlack("socket", "xoxb-1", "", "s3"), want: []want{
			{Critical, "slack.app_token", "App-Level Tokens"},
		}},
		{name: "serve http", purpose: ForServe, edit: withSlack("http", "xoxb-1", "", "s3")},
		{name: "serve http without signing secret", purpose: ForServe, edit: withSlack("http", "xoxb-1", "", ""), want: []want{
			{Critical, "slack.signing_secret", "is empty: set CVMLOGIN_SLACK_SIGNING_SECRET (or slack.signing_secret in the config file) to the Signing Secret"},
		}},
		{name: "serve with a wrong bot token", purpose: ForServe, edit: withSlack("socket", "xoxp-1", "xapp-1", ""), want: []want{
			{Critical, "slack.bot_token", `does not start with "xoxb-"`},
		}},
		{name: "serve with approver groups only", purpose: ForServe, edit: func(c *Config) {
			withSlack("socket", "xoxb-1", "xapp-1", "")(c)
			c.Approvals = Approvals{ApproverGroups: []string{"S012AB3CD"}, TTL: time.Hour}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := MustLoad(t, LoadOptions{})
			tt.edit(cfg)
			problems := cfg.ValidateFor(tt.purpose)
			if len(problems) != len(tt.want) {
				t.Fatalf("ValidateFor() = %q, want %d problems", problems, len(tt.want))
			}
			for i, w := range tt.want {
				assertProblem(t, problems[i], w.severity, w.key, w.msg)
			}
		})
	}
}

func TestHasCritical(t *testing.T) {
	tests := []struct {
		name     string
		problems []Problem
		want     bool
	}{
		{name: "none", want: false},
		{name: "warnings only", problems: []Problem{{Key: "a", Severity: Warning}}, want: false},
		{name: "one critical", problems: []Problem{{Key: "a", Severity: Warning}, {Key: "b", Severity: Critical}}, want: true},
	}
	for _, tt := range tests {
		if got := HasCritical(tt.problems); got != tt.want {
			t.Errorf("%s: HasCritical() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLevelString(t *testing.T) {
	for level, want := range map[Level]string{Warning: "warning", Critical: "critical", 0: "Level(0)"} {
		if got := level.String(); got != want {
			t.Errorf("Level(%d).String() = %q, want %q", int(level), got, want)
		}
	}
}
