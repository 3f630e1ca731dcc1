package configs

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// MustWriteFile writes content to a file in a fresh temporary directory and
// returns its path.
func MustWriteFile(tb testing.TB, content string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "cvmlogin.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatalf("writing %s: %v", path, err)
	}
	return path
}

// MustLoad calls Load and fails the test on error.
func MustLoad(tb testing.TB, opts LoadOptions) *Config {
	tb.Helper()
	cfg, err := Load(opts)
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return cfg
}

// MustFlags returns a flag set with a --region string flag and an
// --approver string-slice flag, after parsing args.
func MustFlags(tb testing.TB, args ...string) *pflag.FlagSet {
	tb.Helper()
	flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
	flags.String("region", "ap-nanjing", "")
	flags.StringSlice("approver", nil, "")
	flags.Duration("timeout", time.Minute, "")
	if err := flags.Parse(args); err != nil {
		tb.Fatalf("parsing flags %q: %v", args, err)
	}
	return flags
}

var testFlagKeys = map[string]string{
	"region":   "tencentcloud.region",
	"approver": "approvals.approvers",
	"timeout":  "diagnosis.timeout",
}

func TestLoadDefaults(t *testing.T) {
	got := MustLoad(t, LoadOptions{})
	want := &Config{
		TencentCloud: TencentCloud{Region: "ap-guangzhou", Regions: []string{}, Scheme: "https"},
		Slack:        Slack{Mode: "socket"},
		HTTP:         HTTP{Listen: ":8080"},
		Redis:        Redis{Addr: "127.0.0.1:6379", Addrs: []string{}, KeyPrefix: "cvmlogin:"},
		Diagnosis: Diagnosis{
			Timeout: 30 * time.Second, CheckTimeout: 10 * time.Second,
			PortProbe: true, ProbeTimeout: 3 * time.Second,
			GuestChecks: true, GuestTimeout: 20 * time.Second, Workers: 16,
			Thresholds: Thresholds{CPUPercent: 90, MemoryPercent: 90, BandwidthPercent: 90, DiskPercent: 95, Window: 10 * time.Minute},
		},
		Approvals: Approvals{Approvers: []string{}, ApproverGroups: []string{}, FourEyes: true, TTL: 15 * time.Minute},
		Access:    Access{AllowedChannels: []string{}},
		Audit:     Audit{MaxLength: 100000, MaxAge: 90 * 24 * time.Hour},
		Log:       Log{Level: "info", Format: "text"},
	}
	want.TencentCloud.AllowedTags = []string{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load() =\n%+v\nwant\n%+v", got, want)
	}
	if problems := got.Validate(); problems != nil {
		t.Errorf("defaults have problems: %v", problems)
	}
}

func TestLoadIgnoresProcessEnvironment(t *testing.T) {
	t.Setenv("CVMLOGIN_LOG_LEVEL", "debug")
	t.Setenv("TENCENTCLOUD_SECRET_ID", "AKIDfromprocess")
	cfg := MustLoad(t, LoadOptions{})
	if cfg.Log.Level != "info" || cfg.TencentCloud.SecretID != "" {
		t.Errorf("Load read the process environment: log.level %q, secret_id set %v", cfg.Log.Level, cfg.TencentCloud.SecretID != "")
	}
}

func TestLoadPrecedence(t *testing.T) {
	file := MustWriteFile(t, "tencentcloud:\n  region: ap-shanghai\n")
	tests := []struct {
		name    string
		file    string
		environ []string
		args    []string
		want    string
	}{
		{name: "default", want: "ap-guangzhou"},
		{name: "file over default", file: file, want: "ap-shanghai"},
		{name: "env over default", environ: []string{"CVMLOGIN_TENCENTCLOUD_REGION=ap-beijing"}, want: "ap-beijing"},
		{name: "env over file", file: file, environ: []string{"CVMLOGIN_TENCENTCLOUD_REGION=ap-beijing"}, want: "ap-beijing"},
		{name: "empty env ignored", file: file, environ: []string{"CVMLOGIN_TENCENTCLOUD_REGION="}, want: "ap-shanghai"},
		{name: "first env entry wins", environ: []string{"CVMLOGIN_TENCENTCLOUD_REGION=ap-beijing", "CVMLOGIN_TENCENTCLOUD_REGION=ap-seoul"}, want: "ap-beijing"},
		{name: "flag over env", file: file, environ: []string{"CVMLOGIN_TENCENTCLOUD_REGION=ap-beijing"}, args: []string{"--region", "ap-chengdu"}, want: "ap-chengdu"},
		{name: "unset flag keeps env", file: file, environ: []string{"CVMLOGIN_TENCENTCLOUD_REGION=ap-beijing"}, args: []string{}, want: "ap-beijing"},
		{name: "unset flag default ignored", want: "ap-guangzhou", args: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := LoadOptions{File: tt.file, Environ: tt.environ, FlagKeys: testFlagKeys}
			if tt.args != nil {
				opts.Flags = MustFlags(t, tt.args...)
			}
			if got := MustLoad(t, opts).TencentCloud.Region; got != tt.want {
				t.Errorf("tencentcloud.region = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadLists(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		environ []string
		args    []string
		want    []string
	}{
		{name: "default", want: []string{}},
		{name: "yaml list in file", file: "approvals:\n  approvers: [U01, U02]\n", want: []string{"U01", "U02"}},
		{name: "comma string in file", file: "approvals:\n  approvers: U01,U02\n", want: []string{"U01", "U02"}},
		{name: "env commas, spaces trimmed, empties dropped", environ: []string{"CVMLOGIN_APPROVALS_APPROVERS= U01, U02,, U03 ,"}, want: []string{"U01", "U02", "U03"}},
		{name: "env over file list", file: "approvals:\n  approvers: [U01]\n", environ: []string{"CVMLOGIN_APPROVALS_APPROVERS=U09"}, want: []string{"U09"}},
		{name: "slice flag", environ: []string{"CVMLOGIN_APPROVALS_APPROVERS=U09"}, args: []string{"--approver", "U05,U06", "--approver", "U07"}, want: []string{"U05", "U06", "U07"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := LoadOptions{Environ: tt.environ, Flags: MustFlags(t, tt.args...), FlagKeys: testFlagKeys}
			if tt.file != "" {
				opts.File = MustWriteFile(t, tt.file)
			}
			if got := MustLoad(t, opts).Approvals.Approvers; !slices.Equal(got, tt.want) || got == nil {
				t.Errorf("approvals.approvers = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestLoadTypedValuesFromEnv(t *testing.T) {
	cfg := MustLoad(t, LoadOptions{Environ: []string{
		"CVMLOGIN_SLACK_BOT_TOKEN=xoxb-1",
		"CVMLOGIN_REDIS_DB=3",
		"CVMLOGIN_DIAGNOSIS_PORT_PROBE=false",
		"CVMLOGIN_DIAGNOSIS_TIMEOUT=1m30s",
		"CVMLOGIN_DIAGNOSIS_THRESHOLDS_CPU_PERCENT=75.5",
		"CVMLOGIN_DIAGNOSIS_THRESHOLDS_WINDOW=5m",
		"CVMLOGIN_ACCESS_ALLOWED_CHANNELS=C01,G02",
	}})
	got := []any{cfg.Slack.BotToken, cfg.Redis.DB, cfg.Diagnosis.PortProbe, cfg.Diagnosis.Timeout,
		cfg.Diagnosis.Thresholds.CPUPercent, cfg.Diagnosis.Thresholds.Window, cfg.Access.AllowedChannels}
	want := []any{"xoxb-1", 3, false, 90 * time.Second, 75.5, 5 * time.Minute, []string{"C01", "G02"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestLoadSDKCredentialFallback(t *testing.T) {
	sdkEnv := []string{"TENCENTCLOUD_SECRET_ID=AKIDsdk", "TENCENTCLOUD_SECRET_KEY=keysdk"}
	tests := []struct {
		name           string
		file           string
		environ        []string
		wantID, wantKy string
	}{
		{name: "none", wantID: "", wantKy: ""},
		{name: "SDK variables fill empty keys", environ: sdkEnv, wantID: "AKIDsdk", wantKy: "keysdk"},
		{name: "CVMLOGIN variables win", environ: append([]string{"CVMLOGIN_TENCENTCLOUD_SECRET_ID=AKIDours", "CVMLOGIN_TENCENTCLOUD_SECRET_KEY=keyours"}, sdkEnv...), wantID: "AKIDours", wantKy: "keyours"},
		{name: "file wins", file: "tencentcloud:\n  secret_id: AKIDfile\n  secret_key: keyfile\n", environ: sdkEnv, wantID: "AKIDfile", wantKy: "keyfile"},
		{name: "each key on its own", file: "tencentcloud:\n  secret_id: AKIDfile\n", environ: sdkEnv, wantID: "AKIDfile", wantKy: "keysdk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := LoadOptions{Environ: tt.environ}
			if tt.file != "" {
				opts.File = MustWriteFile(t, tt.file)
			}
			cfg := MustLoad(t, opts)
			if cfg.TencentCloud.SecretID != tt.wantID || cfg.TencentCloud.SecretKey != tt.wantKy {
				t.Errorf("secret_id, secret_key = %q, %q; want %q, %q", cfg.TencentCloud.SecretID, cfg.TencentCloud.SecretKey, tt.wantID, tt.wantKy)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.yaml")
	tests := []struct {
		name     string
		file     string // content; "" for none
		path     string // used when file is ""
		environ  []string
		flagKeys map[string]string
		want     string
	}{
		{name: "missing config file", path: missing, want: missing},
		{name: "malformed YAML", file: "slack: [mode\n", want: "parsing config file"},
		{name: "duration without unit", file: "diagnosis:\n  timeout: 30\n", want: "diagnosis.timeout"},
		{name: "bad duration from env", environ: []string{"CVMLOGIN_APPROVALS_TTL=soon"}, want: "approvals.ttl"},
		{name: "bad bool from env", environ: []string{"CVMLOGIN_DIAGNOSIS_GUEST_CHECKS=maybe"}, want: "diagnosis.guest_checks"},
		{name: "bad integer in file", file: "redis:\n  db: first\n", want: "redis.db"},
		{name: "flag bound to unknown key", flagKeys: map[string]string{"region": "tencentcloud.regoin"}, want: "tencentcloud.regoin"},
		{name: "flag bound to a section", flagKeys: map[string]string{"region": "tencentcloud"}, want: "--region"},
		{name: "undefined flag", flagKeys: map[string]string{"zone": "tencentcloud.region"}, want: "--zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := LoadOptions{File: tt.path, Environ: tt.environ, Flags: MustFlags(t), FlagKeys: tt.flagKeys}
			if tt.file != "" {
				opts.File = MustWriteFile(t, tt.file)
			}
			cfg, err := Load(opts)
			if err == nil {
				t.Fatalf("Load() = %+v, want an error mentioning %q", cfg, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load() error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestLoadUnknownKeysAreWarnings(t *testing.T) {
	file := MustWriteFile(t, `
slack:
diagnosis:
  timout: 10s
  thresholds:
    cpu: 80
slak:
  mode: http
`)
	problems := MustLoad(t, LoadOptions{File: file}).Validate()
	want := []Problem{
		{Key: "diagnosis.thresholds.cpu", Severity: Warning},
		{Key: "diagnosis.timout", Severity: Warning},
		{Key: "slak.mode", Severity: Warning},
	}
	if len(problems) != len(want) {
		t.Fatalf("Validate() = %v, want warnings for %v", problems, want)
	}
	for i, p := range problems {
		if p.Key != want[i].Key || p.Severity != want[i].Severity || !strings.HasPrefix(p.String(), p.Key+": ") {
			t.Errorf("problem %d = %+v (%q), want a %v for %s", i, p, p, want[i].Severity, want[i].Key)
		}
	}
}

// defaultKeys returns every key of the embedded defaults.
func defaultKeys(tb testing.TB) []string {
	tb.Helper()
	v, err := parseYAML(defaultsYAML)
	if err != nil {
		tb.Fatalf("parsing defaults.yaml: %v", err)
	}
	return slices.Sorted(slices.Values(v.AllKeys()))
}

func TestEveryDefaultKeyHasAField(t *testing.T) {
	out, err := MustLoad(t, LoadOptions{}).YAML()
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := parseYAML(out)
	if err != nil {
		t.Fatalf("parsing YAML(): %v\n%s", err, out)
	}
	if got, want := slices.Sorted(slices.Values(rendered.AllKeys())), defaultKeys(t); !slices.Equal(got, want) {
		t.Errorf("YAML() keys = %v\nwant defaults.yaml keys %v", got, want)
	}
}

func TestExampleYAML(t *testing.T) {
	const path = "cvmlogin.example.yaml"
	example := MustLoad(t, LoadOptions{File: path})
	if problems := example.ValidateFor(ForDiagnose); problems != nil {
		t.Errorf("%s has problems: %v", path, problems)
	}
	if defaults := MustLoad(t, LoadOptions{}); !reflect.DeepEqual(example, defaults) {
		t.Errorf("%s sets values that are not the defaults:\n%+v\nwant\n%+v", path, example, defaults)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := parseYAML(text)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	for _, key := range defaultKeys(t) {
		if !parsed.InConfig(key) {
			t.Errorf("%s does not set %s", path, key)
		}
		if !strings.Contains(string(text), EnvName(key)) {
			t.Errorf("%s does not mention %s for %s", path, EnvName(key), key)
		}
	}
}

func TestEnvName(t *testing.T) {
	tests := map[string]string{
		"slack.bot_token":                     "CVMLOGIN_SLACK_BOT_TOKEN",
		"diagnosis.thresholds.cpu_percent":    "CVMLOGIN_DIAGNOSIS_THRESHOLDS_CPU_PERCENT",
		"access.allowed_channels":             "CVMLOGIN_ACCESS_ALLOWED_CHANNELS",
		"tencentcloud.region":                 "CVMLOGIN_TENCENTCLOUD_REGION",
		"diagnosis.thresholds.memory_percent": "CVMLOGIN_DIAGNOSIS_THRESHOLDS_MEMORY_PERCENT",
	}
	for key, want := range tests {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}
