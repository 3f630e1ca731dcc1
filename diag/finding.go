package diag

import "slices"

// Status is the outcome of one check.
type Status string

// The statuses a finding can have. "unknown" means the check could not tell
// (API error, missing permission, no data); it is never reported as ok.
const (
	StatusOK      Status = "ok"
	StatusWarn    Status = "warn"
	StatusFail    Status = "fail"
	StatusUnknown Status = "unknown"
	StatusSkipped Status = "skipped"
)

// Statuses lists every status, in the order summaries print them.
var Statuses = []Status{StatusOK, StatusWarn, StatusFail, StatusUnknown, StatusSkipped}

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Severity says how much a non-ok finding matters for logging in.
type Severity string

// The severities, most serious first.
const (
	SeverityCritical Severity = "critical" // login is impossible until fixed
	SeverityHigh     Severity = "high"     // login is very likely broken
	SeverityMedium   Severity = "medium"   // login may be slow or flaky
	SeverityLow      Severity = "low"      // worth knowing
	SeverityInfo     Severity = "info"     // informational only
)

// CheckID is the stable identifier of a check. IDs never change: they are part
// of the external contract (reports, Redis keys, metrics).
type CheckID string

// The check catalogue, design.md B3.
const (
	CheckInstanceFound     CheckID = "instance.found"
	CheckInstanceState     CheckID = "instance.state"
	CheckInstanceIsolation CheckID = "instance.isolation"
	CheckInstanceExpired   CheckID = "instance.expired"
	CheckAccountArrears    CheckID = "account.arrears"
	CheckPublicIP          CheckID = "network.public_ip"
	CheckBandwidthZero     CheckID = "network.bandwidth_zero"
	CheckBandwidthUsage    CheckID = "network.bandwidth_usage"
	CheckIPBlocked         CheckID = "network.ip_blocked"
	CheckLoadCPU           CheckID = "load.cpu"
	CheckLoadMemory        CheckID = "load.memory"
	CheckSGLoginPort       CheckID = "security_group.login_port"
	CheckSGICMP            CheckID = "security_group.icmp"
	CheckPortReachable     CheckID = "port.reachable"
	CheckGuestAgent        CheckID = "guest.agent"
	CheckGuestLoginService CheckID = "guest.login_service"
	CheckGuestLoginConfig  CheckID = "guest.login_config"
	CheckGuestDisk         CheckID = "guest.disk"
)

// CheckIDs lists every check in packet-path order: the order in which a
// failure is most likely the cause of a failed login. Reports list findings in
// this order and likely_cause is the first failing check in it.
var CheckIDs = []CheckID{
	CheckInstanceFound,
	CheckAccountArrears,
	CheckInstanceIsolation,
	CheckInstanceExpired,
	CheckInstanceState,
	CheckPublicIP,
	CheckBandwidthZero,
	CheckIPBlocked,
	CheckSGLoginPort,
	CheckPortReachable,
	CheckBandwidthUsage,
	CheckLoadCPU,
	CheckLoadMemory,
	CheckGuestAgent,
	CheckGuestLoginService,
	CheckGuestLoginConfig,
	CheckGuestDisk,
	CheckSGICMP,
}

// FixAction names a remedy the bot can apply after approval (design.md B5).
type FixAction string

// The fix actions. Their string values are also the Slack button action IDs.
const (
	FixOpenAllPorts    FixAction = "open_all_ports"
	FixOpenLoginPort   FixAction = "open_login_port"
	FixUndoOpenPorts   FixAction = "undo_open_ports"
	FixRestartInstance FixAction = "restart_instance"
	FixStartInstance   FixAction = "start_instance"
)

// FixActions lists every fix action: the cloud changes, then the guest
// repairs (repair.go).
var FixActions = []FixAction{FixOpenAllPorts, FixOpenLoginPort, FixUndoOpenPorts, FixRestartInstance, FixStartInstance,
	FixRestartLoginService, FixOpenGuestFirewall, FixUndoGuestFirewall, FixFixAuthorizedKeys, FixEnableRDP}

// Finding is the result of one check: its status plus everything a person
// needs to act on it.
type Finding struct {
	Check       CheckID        `json:"check"`
	Status      Status         `json:"status"`
	Severity    Severity       `json:"severity"`
	Title       string         `json:"title"`
	Detail      string         `json:"detail"`
	Remediation string         `json:"remediation"`
	DocURL      string         `json:"doc_url"`
	Fixes       []FixAction    `json:"fixes"`
	Evidence    map[string]any `json:"evidence"`
	DurationMS  int64          `json:"duration_ms"`
}
