package configs

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Level is how serious a Problem is.
type Level int

const (
	// Warning means cvmlogin can run, though perhaps not as intended: log it.
	Warning Level = iota + 1
	// Critical means cvmlogin must not start.
	Critical
)

// String returns "warning" or "critical".
func (l Level) String() string {
	switch l {
	case Warning:
		return "warning"
	case Critical:
		return "critical"
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

// Problem is one thing wrong with a Config. Its Message never contains a
// secret.
type Problem struct {
	// Key is the configuration key at fault, like "tencentcloud.scheme", with
	// an index for a list item, like "approvals.approvers[2]".
	Key string
	// Message says what is wrong and, where it helps, how to fix it.
	Message string
	// Severity is Critical or Warning.
	Severity Level
}

// String returns the key and the message, like
// `tencentcloud.scheme: "http" is only allowed with a loopback endpoint (tencentcloud.endpoint is "example.com")`.
func (p Problem) String() string {
	return p.Key + ": " + p.Message
}

// HasCritical reports whether any of problems is Critical.
func HasCritical(problems []Problem) bool {
	return slices.ContainsFunc(problems, func(p Problem) bool { return p.Severity == Critical })
}

// Purpose is what a Config is about to be used for; ValidateFor checks what
// that use needs on top of Validate.
type Purpose int

const (
	// ForDiagnose is a one-off diagnosis from the command line: Slack settings
	// are not needed.
	ForDiagnose Purpose = iota + 1
	// ForServe is running the bot: the Slack credentials of the configured
	// mode are required.
	ForServe
)

// Validate returns every problem with c's values, or nil: first the keys of
// the config file that match no setting, as Warnings, then Critical problems
// in the order of Config's fields.
func (c *Config) Validate() []Problem {
	var ps problems
	for _, key := range c.unknownKeys {
		ps.warning(key, "is not a known setting (misspelt? cvmlogin.example.yaml lists every key)")
	}
	c.TencentCloud.validate(&ps)
	c.Slack.validate(&ps)
	c.HTTP.validate(&ps)
	c.Redis.validate(&ps)
	c.Diagnosis.validate(&ps)
	c.Approvals.validate(&ps)
	c.Access.validate(&ps)
	c.Audit.validate(&ps)
	c.Log.validate(&ps)
	c.Metrics.validate(&ps)
	c.Alarms.validate(&ps)
	return ps
}

// ValidateFor returns Validate's problems plus those that matter for
// purpose. ForServe requires slack.bot_token, and slack.app_token in socket
// mode or slack.signing_secret in http mode (Critical), and warns when no one
// may approve fixes.
func (c *Config) ValidateFor(purpose Purpose) []Problem {
	ps := problems(c.Validate())
	if purpose == ForServe {
		c.validateServe(&ps)
	}
	return ps
}

func (c *Config) validateServe(ps *problems) {
	botToken.require(ps, c.Slack.BotToken)
	switch c.Slack.Mode {
	case "socket":
		appToken.require(ps, c.Slack.AppToken)
	case "http":
		signingSecret.require(ps, c.Slack.SigningSecret)
	}
	if len(c.Approvals.Approvers) == 0 && len(c.Approvals.ApproverGroups) == 0 {
		ps.warning("approvals.approvers", "is empty, and so is approvals.approver_groups: nobody can approve fixes; set %s or %s",
			EnvName("approvals.approvers"), EnvName("approvals.approver_groups"))
	}
}

func (t *TencentCloud) validate(ps *problems) {
	ps.region("tencentcloud.region", t.Region)
	for i, region := range t.Regions {
		ps.region(itemKey("tencentcloud.regions", i), region)
	}
	if strings.Contains(t.Endpoint, "/") {
		ps.critical("tencentcloud.endpoint", "%q must be a host[:port], without scheme or path (tencentcloud.scheme sets the scheme)", t.Endpoint)
	}
	ps.oneOf("tencentcloud.scheme", t.Scheme, "https", "http")
	if t.Scheme == "http" && !isLoopbackHost(endpointHost(t.Endpoint)) {
		ps.critical("tencentcloud.scheme", "%q is only allowed with a loopback endpoint (tencentcloud.endpoint is %q)", t.Scheme, t.Endpoint)
	}
	for i, tag := range t.AllowedTags {
		if key, _, ok := strings.Cut(tag, "="); !ok || strings.TrimSpace(key) == "" {
			ps.critical(itemKey("tencentcloud.allowed_tags", i), "%q is not a tag key=value, like \"cvmlogin=allowed\"", tag)
		}
	}
	switch {
	case t.SecretID != "" && t.SecretKey == "":
		ps.missingCredential("tencentcloud.secret_key", sdkSecretKeyEnv, "tencentcloud.secret_id")
	case t.SecretID == "" && t.SecretKey != "":
		ps.missingCredential("tencentcloud.secret_id", sdkSecretIDEnv, "tencentcloud.secret_key")
	}
	for _, action := range slices.Sorted(maps.Keys(t.RateLimits)) {
		if rps := t.RateLimits[action]; rps < 1 {
			ps.critical("tencentcloud.rate_limits."+action, "%d requests/s: a budget must be at least 1", rps)
		}
	}
}

func (s *Slack) validate(ps *problems) {
	ps.oneOf("slack.mode", s.Mode, "socket", "http")
	botToken.checkPrefix(ps, s.BotToken)
	appToken.checkPrefix(ps, s.AppToken)
	if s.APIURL != "" && !isHTTPURL(s.APIURL) {
		ps.critical("slack.api_url", "%q is not an http:// or https:// URL", s.APIURL)
	}
}

func (h *HTTP) validate(ps *problems) {
	ps.hostPort("http.listen", h.Listen, ":8080", false)
}

func (m *Metrics) validate(ps *problems) {
	if m.Listen != "" {
		ps.hostPort("metrics.listen", m.Listen, ":9090", false)
	}
}

func (r *Redis) validate(ps *problems) {
	ps.hostPort("redis.addr", r.Addr, "127.0.0.1:6379", true)
	for i, addr := range r.Addrs {
		ps.hostPort(itemKey("redis.addrs", i), addr, "10.0.0.5:6379", true)
	}
	if r.URL != "" && !isRedisURL(r.URL) {
		// Never quote the URL: it may hold a password.
		ps.critical("redis.url", "is not a redis://, rediss:// or unix:// URL, like \"redis://:PASSWORD@10.0.0.5:6379/0\"")
	}
	if r.DB < 0 {
		ps.critical("redis.db", "must be 0 or more (is %d)", r.DB)
	}
	if r.KeyPrefix == "" {
		ps.critical("redis.key_prefix", "must not be empty: every key the bot writes starts with it")
	}
}

func (d *Diagnosis) validate(ps *problems) {
	ps.positive("diagnosis.timeout", d.Timeout)
	ps.positive("diagnosis.check_timeout", d.CheckTimeout)
	ps.positive("diagnosis.probe_timeout", d.ProbeTimeout)
	ps.positive("diagnosis.guest_timeout", d.GuestTimeout)
	if d.Workers <= 0 {
		ps.critical("diagnosis.workers", "must be 1 or more (is %d)", d.Workers)
	}
	ps.percent("diagnosis.thresholds.cpu_percent", d.Thresholds.CPUPercent)
	ps.percent("diagnosis.thresholds.memory_percent", d.Thresholds.MemoryPercent)
	ps.percent("diagnosis.thresholds.bandwidth_percent", d.Thresholds.BandwidthPercent)
	ps.percent("diagnosis.thresholds.disk_percent", d.Thresholds.DiskPercent)
	ps.positive("diagnosis.thresholds.window", d.Thresholds.Window)
}

// minApprovalTTL leaves an approver time to read the request and click.
const minApprovalTTL = time.Minute

func (a *Approvals) validate(ps *problems) {
	userID.checkEach(ps, "approvals.approvers", a.Approvers)
	groupID.checkEach(ps, "approvals.approver_groups", a.ApproverGroups)
	if a.TTL < minApprovalTTL {
		ps.critical("approvals.ttl", "must be at least %v (is %v)", minApprovalTTL, a.TTL)
	}
}

func (a *Access) validate(ps *problems) {
	channelID.checkEach(ps, "access.allowed_channels", a.AllowedChannels)
}

func (a *Alarms) validate(ps *problems) {
	for _, route := range slices.Sorted(maps.Keys(a.TagChannels)) {
		key := "alarms.tag_channels." + route
		if tag, _, ok := strings.Cut(route, "="); !ok || strings.TrimSpace(tag) == "" {
			ps.critical(key, "%q is not a tag key=value, like \"env=prod\"", route)
		}
		channelID.check(ps, key, a.TagChannels[route])
	}
}

func (a *Audit) validate(ps *problems) {
	if a.MaxLength < 1000 {
		ps.critical("audit.max_length", "%d is too small to keep an audit trail: use 1000 or more", a.MaxLength)
	}
	ps.positive("audit.max_age", a.MaxAge)
}

func (l *Log) validate(ps *problems) {
	ps.oneOf("log.level", l.Level, "debug", "info", "warn", "error")
	ps.oneOf("log.format", l.Format, "text", "json")
}

// problems collects Problems; its methods are the validation rules.
type problems []Problem

func (ps *problems) add(severity Level, key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Message: fmt.Sprintf(format, args...), Severity: severity})
}

func (ps *problems) critical(key, format string, args ...any) {
	ps.add(Critical, key, format, args...)
}

func (ps *problems) warning(key, format string, args ...any) {
	ps.add(Warning, key, format, args...)
}

func (ps *problems) oneOf(key, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		ps.critical(key, "%q is not one of %s", value, quoteAll(allowed))
	}
}

func (ps *problems) positive(key string, d time.Duration) {
	if d <= 0 {
		ps.critical(key, "must be more than zero (is %v)", d)
	}
}

func (ps *problems) percent(key string, p float64) {
	if p <= 0 || p > 100 {
		ps.critical(key, "must be more than 0 and at most 100 (is %g)", p)
	}
}

var regionPattern = regexp.MustCompile(`^[a-z]{2}-[a-z]+(-[a-z0-9]+)*$`)

func (ps *problems) region(key, value string) {
	if !regionPattern.MatchString(value) {
		ps.critical(key, "%q is not a region ID like \"ap-guangzhou\"", value)
	}
}

// hostPort checks a host:port address; the host may be empty (every
// interface) unless hostRequired.
func (ps *problems) hostPort(key, value, example string, hostRequired bool) {
	host, port, err := net.SplitHostPort(value)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 || (hostRequired && host == "") {
		ps.critical(key, "%q is not a host:port address like %q", value, example)
	}
}

// missingCredential reports that key is empty while its partner other is
// set; env is the SDK's variable for key.
func (ps *problems) missingCredential(key, env, other string) {
	ps.critical(key, "is empty while %s is set: set %s (or %s), or unset both to use the SDK's default credential chain",
		other, EnvName(key), env)
}

// slackSecret describes a Slack credential, for problems that say where to
// find it.
type slackSecret struct {
	key    string
	prefix string // every valid value starts with it; "" when none
	what   string
	where  string // in the app's settings at https://api.slack.com/apps
}

var (
	botToken = slackSecret{
		key: "slack.bot_token", prefix: "xoxb-",
		what: "the Bot User OAuth Token (xoxb-…)", where: "OAuth & Permissions",
	}
	appToken = slackSecret{
		key: "slack.app_token", prefix: "xapp-",
		what: "an App-Level Token (xapp-…) with the connections:write scope", where: "Basic Information → App-Level Tokens",
	}
	signingSecret = slackSecret{
		key:  "slack.signing_secret",
		what: "the Signing Secret", where: "Basic Information → App Credentials",
	}
)

// checkPrefix adds a problem if value is set but lacks the expected prefix.
func (s slackSecret) checkPrefix(ps *problems, value string) {
	if !strings.HasPrefix(value, s.prefix) && value != "" {
		s.add(ps, fmt.Sprintf("does not start with %q", s.prefix))
	}
}

// require adds a problem if value is empty.
func (s slackSecret) require(ps *problems, value string) {
	if value == "" {
		s.add(ps, "is empty")
	}
}

// add adds a Critical problem made of fault and where to find the secret. It
// never quotes the value.
func (s slackSecret) add(ps *problems, fault string) {
	ps.critical(s.key, "%s: set %s (or %s in the config file) to %s, from your app's page at https://api.slack.com/apps → %s",
		fault, EnvName(s.key), s.key, s.what, s.where)
}

// slackID describes a kind of Slack ID.
type slackID struct {
	pattern *regexp.Regexp
	what    string
	example string
	where   string
}

var (
	userID = slackID{
		pattern: regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`),
		what:    "user", example: "U012AB3CD", where: "the member's profile → ⋮ → Copy member ID",
	}
	groupID = slackID{
		pattern: regexp.MustCompile(`^S[A-Z0-9]{2,}$`),
		what:    "user-group", example: "S012AB3CD", where: "the group's page → ⋮ → Copy group ID",
	}
	channelID = slackID{
		pattern: regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`),
		what:    "channel", example: "C012AB3CD", where: "the channel's details, at the bottom",
	}
)

func (id slackID) checkEach(ps *problems, key string, values []string) {
	for i, value := range values {
		id.check(ps, itemKey(key, i), value)
	}
}

func (id slackID) check(ps *problems, key, value string) {
	if !id.pattern.MatchString(value) {
		ps.critical(key, "%q is not a Slack %s ID like %q (copy it from %s)", value, id.what, id.example, id.where)
	}
}

// itemKey names the i-th item of the list at key.
func itemKey(key string, i int) string {
	return key + "[" + strconv.Itoa(i) + "]"
}

func quoteAll(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = strconv.Quote(v)
	}
	return strings.Join(quoted, ", ")
}

// endpointHost returns the host of a host[:port] endpoint.
func endpointHost(endpoint string) string {
	if host, _, err := net.SplitHostPort(endpoint); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(endpoint, "["), "]")
}

// isLoopbackHost reports whether host is "localhost" or an address in
// 127.0.0.0/8 or ::1.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// isRedisURL reports whether raw is a URL go-redis can parse: redis:// or
// rediss:// with a host, or unix:// with a socket path.
func isRedisURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return false
	}
	switch u.Scheme {
	case "redis", "rediss":
		return u.Host != ""
	case "unix":
		return u.Path != ""
	}
	return false
}
