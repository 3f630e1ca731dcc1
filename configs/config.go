// Package configs loads, validates and redacts cvmlogin's configuration.
//
// Configuration comes in layers, each overriding the one before: the defaults
// embedded from defaults.yaml, an optional YAML file (--config), environment
// variables named CVMLOGIN_<KEY> (see EnvName), and command-line flags that
// were set explicitly. Load merges the layers into a Config; Validate and
// ValidateFor report what is wrong with it, split into Critical problems (refuse
// to start) and Warnings (log and go on); Redacted and YAML give a copy that is
// safe to print. cvmlogin.example.yaml documents every key.
//
// Nothing here is global: every Load uses its own viper instance and reads the
// environment only from LoadOptions.Environ.
package configs

import (
	"bytes"
	_ "embed"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// defaultsYAML holds every configuration key with its default value.
//
//go:embed defaults.yaml
var defaultsYAML []byte

// envPrefix starts the name of every environment variable Load reads, except
// the Tencent Cloud SDK's own credential variables.
const envPrefix = "CVMLOGIN_"

// The Tencent Cloud SDK's credential variables, used for tencentcloud.secret_id
// and tencentcloud.secret_key when nothing else sets them.
const (
	sdkSecretIDEnv  = "TENCENTCLOUD_SECRET_ID"
	sdkSecretKeyEnv = "TENCENTCLOUD_SECRET_KEY"
)

// Config is cvmlogin's whole configuration. Load returns one with every field
// set (defaults included); pass it, or the parts a component needs, down
// explicitly. A Config is safe to read from several goroutines as long as
// none modifies it.
type Config struct {
	// TencentCloud is how to reach the Tencent Cloud APIs.
	TencentCloud TencentCloud `mapstructure:"tencentcloud" yaml:"tencentcloud"`
	// Slack is how to reach Slack and receive its requests.
	Slack Slack `mapstructure:"slack" yaml:"slack"`
	// HTTP is the bot's own HTTP server.
	HTTP HTTP `mapstructure:"http" yaml:"http"`
	// Redis is where conversation state, fix requests and the job queue live.
	Redis Redis `mapstructure:"redis" yaml:"redis"`
	// Diagnosis tunes the diagnosis pipeline.
	Diagnosis Diagnosis `mapstructure:"diagnosis" yaml:"diagnosis"`
	// Approvals says who may approve fixes, and how.
	Approvals Approvals `mapstructure:"approvals" yaml:"approvals"`
	// Access limits where the bot answers.
	Access Access `mapstructure:"access" yaml:"access"`
	// Audit is how much of the audit stream is kept.
	Audit Audit `mapstructure:"audit" yaml:"audit"`
	// Log configures the bot's own log.
	Log Log `mapstructure:"log" yaml:"log"`
	// Metrics is where Prometheus metrics are served.
	Metrics Metrics `mapstructure:"metrics" yaml:"metrics"`
	// Alarms is how monitoring alarms start diagnoses.
	Alarms Alarms `mapstructure:"alarms" yaml:"alarms"`

	// unknownKeys lists the keys of the config file that no field matches,
	// reported by Validate as warnings.
	unknownKeys []string
}

// TencentCloud is the tencentcloud.* section.
type TencentCloud struct {
	// Region is the default region, like "ap-guangzhou" (tencentcloud.region).
	Region string `mapstructure:"region" yaml:"region"`
	// Regions are searched, in order, when a target names no region and is not
	// found in Region (tencentcloud.regions).
	Regions []string `mapstructure:"regions" yaml:"regions"`
	// Endpoint, when not empty, is a host[:port] that every service's API
	// calls go to instead of the public endpoints (tencentcloud.endpoint).
	Endpoint string `mapstructure:"endpoint" yaml:"endpoint"`
	// Scheme is "https", or "http" for a loopback Endpoint (tencentcloud.scheme).
	Scheme string `mapstructure:"scheme" yaml:"scheme"`
	// SecretID is the API key ID, also read from TENCENTCLOUD_SECRET_ID. Empty
	// with an empty SecretKey means the SDK's default credential chain
	// (tencentcloud.secret_id). Secret.
	SecretID string `mapstructure:"secret_id" yaml:"secret_id"`
	// SecretKey is the API key secret, also read from TENCENTCLOUD_SECRET_KEY
	// (tencentcloud.secret_key). Secret.
	SecretKey string `mapstructure:"secret_key" yaml:"secret_key"`
	// RateLimits overrides the budget of API actions, in requests per second,
	// by action name, like {DescribeInstances: 10}; the others spend half
	// their documented limit. Every replica with one account shares these
	// budgets through Redis (tencentcloud.rate_limits).
	RateLimits map[string]int `mapstructure:"rate_limits" yaml:"rate_limits"`
	// AllowedTags, when not empty, limits the bot to the instances carrying
	// at least one of these tags, each "key=value" (tencentcloud.allowed_tags).
	AllowedTags []string `mapstructure:"allowed_tags" yaml:"allowed_tags"`
}

// Slack is the slack.* section.
type Slack struct {
	// Mode is "socket" (Socket Mode, no public endpoint) or "http" (Slack
	// calls the bot's HTTP endpoints) (slack.mode).
	Mode string `mapstructure:"mode" yaml:"mode"`
	// BotToken is the Bot User OAuth Token, "xoxb-…" (slack.bot_token). Secret.
	BotToken string `mapstructure:"bot_token" yaml:"bot_token"`
	// AppToken is the App-Level Token for Socket Mode, "xapp-…"
	// (slack.app_token). Secret.
	AppToken string `mapstructure:"app_token" yaml:"app_token"`
	// SigningSecret verifies requests in HTTP mode (slack.signing_secret). Secret.
	SigningSecret string `mapstructure:"signing_secret" yaml:"signing_secret"`
	// APIURL, when not empty, replaces the Slack Web API base URL; tests point
	// it at a fake (slack.api_url).
	APIURL string `mapstructure:"api_url" yaml:"api_url"`
}

// HTTP is the http.* section.
type HTTP struct {
	// Listen is the address of the HTTP server serving the Slack endpoints
	// (HTTP mode), health and metrics, like ":8080" (http.listen).
	Listen string `mapstructure:"listen" yaml:"listen"`
}

// Redis is the redis.* section.
type Redis struct {
	// Addr is the host:port of a single Redis server (redis.addr).
	Addr string `mapstructure:"addr" yaml:"addr"`
	// URL, when not empty, is a redis://, rediss:// or unix:// URL used
	// instead of Addr, Password and DB (redis.url). Its password is secret.
	URL string `mapstructure:"url" yaml:"url"`
	// Password authenticates to Redis (redis.password). Secret.
	Password string `mapstructure:"password" yaml:"password"`
	// DB is the database number (redis.db).
	DB int `mapstructure:"db" yaml:"db"`
	// Addrs, when not empty, are the seed addresses of a Redis Cluster, or of
	// the Sentinels when MasterName is set (redis.addrs).
	Addrs []string `mapstructure:"addrs" yaml:"addrs"`
	// MasterName is the Sentinel master's name; empty means no Sentinel
	// (redis.master_name).
	MasterName string `mapstructure:"master_name" yaml:"master_name"`
	// KeyPrefix starts every key the bot writes (redis.key_prefix).
	KeyPrefix string `mapstructure:"key_prefix" yaml:"key_prefix"`
}

// Diagnosis is the diagnosis.* section.
type Diagnosis struct {
	// Timeout is the whole pipeline's deadline, which also bounds the waits
	// for the Tencent Cloud request budget (diagnosis.timeout).
	Timeout time.Duration `mapstructure:"timeout" yaml:"timeout"`
	// CheckTimeout is each API call's deadline, its waits for the budget
	// not counted (diagnosis.check_timeout).
	CheckTimeout time.Duration `mapstructure:"check_timeout" yaml:"check_timeout"`
	// PortProbe enables the TCP connect to the login port from the bot host
	// (diagnosis.port_probe).
	PortProbe bool `mapstructure:"port_probe" yaml:"port_probe"`
	// ProbeTimeout is the TCP probe's connect deadline (diagnosis.probe_timeout).
	ProbeTimeout time.Duration `mapstructure:"probe_timeout" yaml:"probe_timeout"`
	// GuestChecks enables the in-guest checks through the TAT agent
	// (diagnosis.guest_checks).
	GuestChecks bool `mapstructure:"guest_checks" yaml:"guest_checks"`
	// GuestTimeout is how long an in-guest command may run
	// (diagnosis.guest_timeout).
	GuestTimeout time.Duration `mapstructure:"guest_timeout" yaml:"guest_timeout"`
	// Workers is how many diagnoses one replica runs at once
	// (diagnosis.workers). Publishing to Slack runs apart from them.
	Workers int `mapstructure:"workers" yaml:"workers"`
	// Thresholds say when a metric counts as saturated.
	Thresholds Thresholds `mapstructure:"thresholds" yaml:"thresholds"`
}

// Thresholds is the diagnosis.thresholds.* section. A percentage at or above
// its threshold makes the matching check fail.
type Thresholds struct {
	// CPUPercent is for load.cpu (diagnosis.thresholds.cpu_percent).
	CPUPercent float64 `mapstructure:"cpu_percent" yaml:"cpu_percent"`
	// MemoryPercent is for load.memory (diagnosis.thresholds.memory_percent).
	MemoryPercent float64 `mapstructure:"memory_percent" yaml:"memory_percent"`
	// BandwidthPercent is for network.bandwidth_usage, as a share of the
	// instance's outbound bandwidth cap (diagnosis.thresholds.bandwidth_percent).
	BandwidthPercent float64 `mapstructure:"bandwidth_percent" yaml:"bandwidth_percent"`
	// DiskPercent is for guest.disk, space and inodes
	// (diagnosis.thresholds.disk_percent).
	DiskPercent float64 `mapstructure:"disk_percent" yaml:"disk_percent"`
	// Window is how far back the monitoring metrics are read
	// (diagnosis.thresholds.window).
	Window time.Duration `mapstructure:"window" yaml:"window"`
}

// Approvals is the approvals.* section.
type Approvals struct {
	// Approvers are the Slack user IDs allowed to approve fixes
	// (approvals.approvers).
	Approvers []string `mapstructure:"approvers" yaml:"approvers"`
	// ApproverGroups are Slack user-group IDs whose members may approve fixes
	// (approvals.approver_groups).
	ApproverGroups []string `mapstructure:"approver_groups" yaml:"approver_groups"`
	// FourEyes forbids whoever requested a fix from approving it
	// (approvals.four_eyes).
	FourEyes bool `mapstructure:"four_eyes" yaml:"four_eyes"`
	// TTL is how long a fix request waits for approval before it expires
	// (approvals.ttl).
	TTL time.Duration `mapstructure:"ttl" yaml:"ttl"`
}

// Access is the access.* section.
type Access struct {
	// AllowedChannels are the Slack channel IDs the bot answers in; empty
	// means every channel it is in (access.allowed_channels).
	AllowedChannels []string `mapstructure:"allowed_channels" yaml:"allowed_channels"`
}

// Audit is the audit.* section: how much of the audit stream is kept.
type Audit struct {
	// MaxLength is about how many events the audit stream keeps
	// (audit.max_length).
	MaxLength int64 `mapstructure:"max_length" yaml:"max_length"`
	// MaxAge drops events older than this (audit.max_age).
	MaxAge time.Duration `mapstructure:"max_age" yaml:"max_age"`
}

// Log is the log.* section.
type Log struct {
	// Level is "debug", "info", "warn" or "error" (log.level).
	Level string `mapstructure:"level" yaml:"level"`
	// Format is "text" or "json" (log.format).
	Format string `mapstructure:"format" yaml:"format"`
}

// Metrics is the metrics.* section.
type Metrics struct {
	// Listen, when not empty, is the address of a separate HTTP server for
	// GET /metrics, like ":9090"; then http.listen no longer serves it
	// (metrics.listen).
	Listen string `mapstructure:"listen" yaml:"listen"`
}

// Alarms is the alarms.* section: the endpoints POST /alarms/tencent (Cloud
// Monitor's callback) and POST /alarms/webhook on http.listen.
type Alarms struct {
	// Token authenticates alarm requests (header X-Cvmlogin-Token or
	// ?token=); empty switches the endpoints off (alarms.token).
	Token string `mapstructure:"token" yaml:"token"`
	// Channel is where alarm diagnoses are posted when the alarm names none
	// (alarms.channel).
	Channel string `mapstructure:"channel" yaml:"channel"`
	// PolicyChannels routes a Cloud Monitor alarm policy ID to its own
	// channel, like {policy-n4exeh88: C0123ABCD} (alarms.policy_channels).
	PolicyChannels map[string]string `mapstructure:"policy_channels" yaml:"policy_channels"`
	// TagChannels routes an alarm whose instance carries a tag to a
	// channel, like {"env=prod": C0123ABCD}, when no policy route matches
	// (alarms.tag_channels). Tags are key=value, as in
	// tencentcloud.allowed_tags, and match without regard to case; with
	// several matches the first in sorted order wins.
	TagChannels map[string]string `mapstructure:"tag_channels" yaml:"tag_channels"`
}

// LoadOptions says where Load finds the layers above the embedded defaults.
type LoadOptions struct {
	// File is the YAML file named by --config; "" means none.
	File string
	// Environ is the environment as "NAME=value" strings: os.Environ() in
	// production, a test's own list in tests. Empty values are ignored.
	Environ []string
	// Flags holds the command-line flags; nil means none. Only flags that were
	// set explicitly override the other layers.
	Flags *pflag.FlagSet
	// FlagKeys maps a flag name to the configuration key it sets, like
	// "region" → "tencentcloud.region".
	FlagKeys map[string]string
}

// EnvName returns the environment variable that sets key: CVMLOGIN_ followed
// by the key upper-cased with "." replaced by "_", so "slack.bot_token" is set
// by CVMLOGIN_SLACK_BOT_TOKEN.
func EnvName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Load merges the embedded defaults, opts.File, the CVMLOGIN_* variables of
// opts.Environ and the explicitly set flags of opts.Flags, in that order of
// increasing precedence, and decodes the result. List values given as one
// string (environment variables, flags) are split at commas, with spaces
// trimmed and empty items dropped. TENCENTCLOUD_SECRET_ID and
// TENCENTCLOUD_SECRET_KEY fill tencentcloud.secret_id and secret_key when the
// file and the CVMLOGIN_* variables leave them empty.
//
// Load returns an error if opts.File cannot be read or parsed (the error names
// the path), if a value cannot be decoded into its field, or if opts.FlagKeys
// names an undefined flag or an unknown key. Keys of the file that match no
// setting are not an error: Validate reports them as warnings.
func Load(opts LoadOptions) (*Config, error) {
	defaults, err := parseYAML(defaultsYAML)
	if err != nil {
		return nil, fmt.Errorf("parsing embedded defaults: %w", err)
	}
	known := newKeySet(defaults.AllKeys())
	v := viper.New()
	for _, key := range known.keys {
		v.SetDefault(key, defaults.Get(key))
	}
	var unknown []string
	if opts.File != "" {
		if unknown, err = mergeFile(v, opts.File, known); err != nil {
			return nil, err
		}
	}
	env := parseEnviron(opts.Environ)
	applyEnv(v, env, known.keys)
	if err := applyMapEnv(v, env); err != nil {
		return nil, err
	}
	applySDKCredentialEnv(v, env)
	if err := applyFlags(v, opts.Flags, opts.FlagKeys, known); err != nil {
		return nil, err
	}
	cfg := &Config{unknownKeys: unknown}
	if err := v.Unmarshal(cfg, viper.DecodeHook(decodeHook())); err != nil {
		return nil, fmt.Errorf("decoding configuration: %w", err)
	}
	return cfg, nil
}

// keySet is the set of configuration keys, with the sections that hold them.
type keySet struct {
	keys     []string
	leaves   map[string]bool
	sections map[string]bool
}

func newKeySet(keys []string) keySet {
	ks := keySet{keys: slices.Sorted(slices.Values(keys)), leaves: map[string]bool{}, sections: map[string]bool{}}
	for _, key := range keys {
		ks.leaves[key] = true
		for i := strings.LastIndexByte(key, '.'); i > 0; i = strings.LastIndexByte(key[:i], '.') {
			ks.sections[key[:i]] = true
		}
	}
	return ks
}

// mapSettings are the settings whose value is a map with keys of the user's
// choosing: any key below them is known.
var mapSettings = []string{"tencentcloud.rate_limits", "alarms.policy_channels", "alarms.tag_channels"}

// knows reports whether key is a setting or a section of settings.
func (ks keySet) knows(key string) bool {
	inMap := slices.ContainsFunc(mapSettings, func(m string) bool { return strings.HasPrefix(key, m+".") })
	return ks.leaves[key] || ks.sections[key] || inMap
}

// parseYAML reads a YAML document into a fresh viper instance.
func parseYAML(data []byte) (*viper.Viper, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, err
	}
	return v, nil
}

// mergeFile merges the YAML file at path into v's config layer and returns
// the file's keys that known does not know, sorted.
func mergeFile(v *viper.Viper, path string, known keySet) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	file, err := parseYAML(data)
	if err != nil {
		return nil, fmt.Errorf("parsing config file %s: %w", path, err)
	}
	if err := v.MergeConfigMap(file.AllSettings()); err != nil {
		return nil, fmt.Errorf("merging config file %s: %w", path, err)
	}
	var unknown []string
	for _, key := range file.AllKeys() {
		if !known.knows(key) {
			unknown = append(unknown, key)
		}
	}
	slices.Sort(unknown)
	return unknown, nil
}

// parseEnviron turns "NAME=value" strings into a map. As with os.Getenv, the
// first of several entries with the same name wins.
func parseEnviron(environ []string) map[string]string {
	env := make(map[string]string, len(environ))
	for _, entry := range environ {
		name, value, ok := strings.Cut(entry, "=")
		if _, seen := env[name]; ok && !seen {
			env[name] = value
		}
	}
	return env
}

// applyEnv sets each key whose CVMLOGIN_* variable is set and not empty.
func applyEnv(v *viper.Viper, env map[string]string, keys []string) {
	for _, key := range keys {
		if value := env[EnvName(key)]; value != "" {
			v.Set(key, value)
		}
	}
}

// applyMapEnv sets each map setting whose CVMLOGIN_* variable is set, from
// "name=value" items separated by commas, split at the last "=" so that a
// name may hold one (a tag route: env=prod=C0123ABCD); names are
// lowercased, as viper does with the file's keys.
func applyMapEnv(v *viper.Viper, env map[string]string) error {
	for _, key := range mapSettings {
		raw := env[EnvName(key)]
		if raw == "" {
			continue
		}
		m := map[string]any{}
		for _, item := range strings.Split(raw, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			i := strings.LastIndexByte(item, '=')
			if i < 0 {
				return fmt.Errorf("%s: %q is not name=value", EnvName(key), item)
			}
			name, value := item[:i], item[i+1:]
			m[strings.ToLower(strings.TrimSpace(name))] = strings.TrimSpace(value)
		}
		v.Set(key, m)
	}
	return nil
}

// applySDKCredentialEnv fills the Tencent Cloud credentials that are still
// empty from the SDK's own environment variables.
func applySDKCredentialEnv(v *viper.Viper, env map[string]string) {
	for key, name := range map[string]string{
		"tencentcloud.secret_id":  sdkSecretIDEnv,
		"tencentcloud.secret_key": sdkSecretKeyEnv,
	} {
		if v.GetString(key) == "" && env[name] != "" {
			v.Set(key, env[name])
		}
	}
}

// applyFlags sets the key of every flag in flagKeys that was set explicitly.
func applyFlags(v *viper.Viper, flags *pflag.FlagSet, flagKeys map[string]string, known keySet) error {
	if flags == nil {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(flagKeys)) {
		key := flagKeys[name]
		if !known.leaves[key] {
			return fmt.Errorf("binding flag --%s: unknown configuration key %q", name, key)
		}
		flag := flags.Lookup(name)
		if flag == nil {
			return fmt.Errorf("binding flag --%s to %s: no such flag", name, key)
		}
		if flag.Changed {
			v.Set(key, flagValue(flag))
		}
	}
	return nil
}

// flagValue returns a flag's value: a []string for slice flags, its string
// form otherwise (the decoder converts it to the field's type).
func flagValue(flag *pflag.Flag) any {
	if slice, ok := flag.Value.(pflag.SliceValue); ok {
		return slice.GetSlice()
	}
	return flag.Value.String()
}

// decodeHook converts strings to durations and comma-separated lists, and
// refuses bare numbers as durations: "timeout: 30" would otherwise mean 30ns.
func decodeHook() mapstructure.DecodeHookFunc {
	return mapstructure.ComposeDecodeHookFunc(
		rejectUnitlessDuration,
		mapstructure.StringToTimeDurationHookFunc(),
		splitCommaList,
	)
}

var durationType = reflect.TypeFor[time.Duration]()

func rejectUnitlessDuration(from, to reflect.Type, data any) (any, error) {
	if to != durationType || from == durationType {
		return data, nil
	}
	switch from.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return nil, fmt.Errorf("duration %v has no unit: write it like \"30s\" or \"15m\"", data)
	}
	return data, nil
}

// splitCommaList decodes a string into a []string by splitting it at commas,
// trimming spaces and dropping empty items.
func splitCommaList(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice {
		return data, nil
	}
	items := []string{}
	for item := range strings.SplitSeq(reflect.ValueOf(data).String(), ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items, nil
}
