package tencentsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Scenario is one simulated CVM instance and everything around it: its
// security groups, public address, metrics, TAT agent and guest. It is also
// the scenario file format (see LoadScenarios).
//
// Defaults: LoadScenarios starts every scenario from DefaultScenario, so a
// file states only what differs from a healthy Linux instance. Go code should
// do the same. Then, in both cases, empty strings and nil lists take the
// defaults documented on each field (derived from the ID and OS where noted);
// numbers and booleans are taken as they are.
type Scenario struct {
	// ID is the instance ID, "ins-" and 8 lowercase letters or digits. Required.
	ID string `json:"id"`
	// Name is the instance name. Default: the ID.
	Name string `json:"name"`
	// Description says in one line what is broken.
	Description string `json:"description"`
	// ExpectFail lists the check IDs (design.md B3, see CheckIDs) a
	// diagnosis should fail; empty for a healthy instance.
	ExpectFail []string `json:"expect_fail"`
	// ExpectStatus pins the status (ok, warn, fail, unknown, skipped) of
	// some checks, for answers ExpectFail cannot tell apart, e.g. a warning
	// rather than unknown. Checks not named may have any status ExpectFail allows.
	ExpectStatus map[string]string `json:"expect_status"`
	// ExpectLikelyCause is the check a diagnosis should name as likely cause,
	// or "" for none.
	ExpectLikelyCause string `json:"expect_likely_cause"`

	// Tags are the instance's tags, key to value. Default: none.
	Tags map[string]string `json:"tags"`

	// Region is where the instance lives; it is not found in any other.
	// Default: ap-guangzhou.
	Region string `json:"region"`
	// Zone is the availability zone. Default: Region + "-3".
	Zone string `json:"zone"`
	// OS is "linux" or "windows": it picks the default login port (22 or
	// 3389), the login service, the TAT environment and the default
	// security group. Default: linux.
	OS string `json:"os"`
	// OsName is the image's OS name. Default: "CentOS 7.6 64bit" on Linux,
	// "Windows Server 2019 DataCenter 64bit" on Windows.
	OsName string `json:"os_name"`
	// State is the InstanceState, e.g. RUNNING, STOPPED, SHUTDOWN. Default: RUNNING.
	State string `json:"state"`
	// RestrictState is NORMAL, EXPIRED or PROTECTIVELY_ISOLATED. Default: NORMAL.
	RestrictState string `json:"restrict_state"`
	// IsolatedSource is NOTISOLATED, ARREAR, EXPIRE or MANMADE. Default: NOTISOLATED.
	IsolatedSource string `json:"isolated_source"`
	// ChargeType is the InstanceChargeType. Default: POSTPAID_BY_HOUR.
	ChargeType string `json:"charge_type"`
	// ExpiredTime is the prepaid expiry; nil (null) for postpaid.
	ExpiredTime *time.Time `json:"expired_time"`
	// RenewFlag is the prepaid auto-renew flag: NOTIFY_AND_MANUAL_RENEW,
	// NOTIFY_AND_AUTO_RENEW or DISABLE_NOTIFY_AND_MANUAL_RENEW; it is null
	// for postpaid instances, as documented. Default (prepaid):
	// NOTIFY_AND_MANUAL_RENEW.
	RenewFlag string `json:"renew_flag"`
	// LoginPort is the instance's DefaultLoginPort, where its login service
	// listens. Default: 3389 on Windows, else 22.
	LoginPort int `json:"login_port"`
	// PublicIPs are the instance's public IPv4 addresses. They must be in
	// 127.0.0.0/8 and unique among scenarios. Default: none.
	PublicIPs []string `json:"public_ips"`
	// PublicIPv6s are its public IPv6 addresses (PublicIPv6Addresses). They
	// must be in the documentation prefix 2001:db8::/32 and unique: the
	// Dialer answers for them from loopback and never dials them.
	// Default: none.
	PublicIPv6s []string `json:"public_ipv6s"`
	// PrivateIPs are its VPC addresses. Default: one 10.x address derived
	// from the ID.
	PrivateIPs []string `json:"private_ips"`
	// BandwidthOutMbps is InternetAccessible.InternetMaxBandwidthOut. Default: 5.
	BandwidthOutMbps int64 `json:"bandwidth_out_mbps"`
	// SecurityGroups are bound to the instance, highest priority first.
	// Default (nil): one group "sg-" + the ID's 8 characters that accepts the
	// login port and ICMP from 0.0.0.0/0 and drops everything else.
	SecurityGroups []SecurityGroup `json:"security_groups"`
	// Templates are address and service templates (and template groups)
	// the scenario adds to its region; rules of any scenario in the region
	// may refer to them. IDs are unique among scenarios.
	Templates []Template `json:"templates"`
	// Account, when set, is the billing account DescribeAccountBalance
	// answers while this scenario's instance is the one being looked at:
	// the last instance a DescribeInstances call returned alone, as a
	// diagnosis does first. Default (nil): the Sim's account (SetAccount).
	Account *AccountState `json:"account"`
	// Address describes the public IPs as the VPC service sees them.
	Address AddressState `json:"address"`
	// DDoSStatus is the basic DDoS protection status of the public IPs:
	// "1" blocked, "2" normal, "3" under attack. Default: "2".
	DDoSStatus string `json:"ddos_status"`

	// CPU is the CPU utilisation level in percent. Default: 20.
	CPU float64 `json:"cpu"`
	// Memory is the memory utilisation level in percent. Default: 20.
	Memory float64 `json:"memory"`
	// BandwidthOutUsedMbps is the outbound public traffic level. Default: 0.5.
	BandwidthOutUsedMbps float64 `json:"bandwidth_out_used_mbps"`
	// NoAgentMetrics makes CPUUsage and MemUsage return no points, as when
	// the Cloud Monitor agent is missing (BaseCpuUsage still has points).
	NoAgentMetrics bool `json:"no_agent_metrics"`

	// Agent is the TAT agent. Default: present and online.
	Agent AgentState `json:"agent"`
	// Guest is what the in-guest script reports.
	Guest GuestState `json:"guest"`
	// InvocationPolls is how many DescribeInvocationTasks polls answer
	// RUNNING before SUCCESS. Default and minimum: 1.
	InvocationPolls int `json:"invocation_polls"`
}

// SecurityGroup is a security group bound to a scenario instance.
type SecurityGroup struct {
	// ID is "sg-" and 8 lowercase letters or digits, unique among scenarios.
	ID string `json:"id"`
	// Ingress rules, first match wins. No rules: everything is rejected.
	Ingress []Rule `json:"ingress"`
	// Egress rules. Default (nil): ACCEPT ALL to 0.0.0.0/0.
	Egress []Rule `json:"egress"`
}

// Rule is a security-group rule. Its source is exactly one of CidrBlock,
// Ipv6CidrBlock, SourceGroupID and AddressTemplate; in a scenario, a rule
// with none of them means CidrBlock 0.0.0.0/0.
type Rule struct {
	// Protocol is TCP, UDP, ICMP, ICMPv6, GRE or ALL (any case). Empty only
	// with ServiceTemplate.
	Protocol string `json:"protocol,omitempty"`
	// Port is for TCP and UDP only: "22", "8000-8010", "22,80" or ALL.
	// Default: ALL.
	Port string `json:"port,omitempty"`
	// ServiceTemplate is a service template (ppm-) or group (ppmg-) ID that
	// replaces Protocol and Port.
	ServiceTemplate string `json:"service_template,omitempty"`
	// CidrBlock is an IPv4 CIDR or address.
	CidrBlock string `json:"cidr_block,omitempty"`
	// Ipv6CidrBlock is an IPv6 CIDR or address.
	Ipv6CidrBlock string `json:"ipv6_cidr_block,omitempty"`
	// SourceGroupID is a referenced security group (sg-).
	SourceGroupID string `json:"source_group_id,omitempty"`
	// AddressTemplate is an address template (ipm-) or group (ipmg-) ID.
	AddressTemplate string `json:"address_template,omitempty"`
	// Action is ACCEPT or DROP (any case).
	Action string `json:"action"`
	// Description is the PolicyDescription.
	Description string `json:"description,omitempty"`
}

// AddressState is how DescribeAddresses sees a scenario's public IPs.
type AddressState struct {
	// Type is the AddressType: WanIP (a public IP assigned at creation) or
	// an EIP type (EIP, AnycastEIP, HighQualityEIP, AntiDDoSEIP,
	// ResidentialEIP). Default: WanIP.
	Type string `json:"type"`
	// Blocked is IsBlocked: the IP is in a DDoS black hole.
	Blocked bool `json:"blocked"`
	// Arrears is IsArrears: the IP is isolated for arrears.
	Arrears bool `json:"arrears"`
}

// AccountState is a billing account as DescribeAccountBalance reports it;
// amounts are in cents (分) of the account's currency.
type AccountState struct {
	// RealBalance is the available balance; negative when spending on credit.
	RealBalance float64 `json:"real_balance"`
	// CreditAmount is the account's credit limit (信用额度); 0 for none.
	CreditAmount float64 `json:"credit_amount"`
}

// AgentState is the TAT agent of a scenario instance. The agent reports
// Online only while the instance is RUNNING.
type AgentState struct {
	// Present is false when the agent is not installed (no agent record).
	Present bool `json:"present"`
	// Online is false when the agent is installed but does not answer.
	Online bool `json:"online"`
}

// GuestState is the guest as the in-guest script sees it.
type GuestState struct {
	// LoginServiceUp says sshd (Linux) or TermService (Windows) is running.
	// While it is down, the login port is not listening, unless a systemd
	// socket listens for it (LoginSocket). A reboot or start brings it up.
	LoginServiceUp bool `json:"login_service_up"`
	// LoginService is the unit the guest script finds: "sshd", "ssh"
	// (Debian, Ubuntu) or "TermService". Default: sshd on Linux (ssh with a
	// LoginSocket), TermService on Windows.
	LoginService string `json:"login_service"`
	// LoginSocket is a systemd socket unit that listens on the login port and
	// starts the service on the first connection, e.g. "ssh.socket" on
	// Ubuntu 22.10 and later. With one, the service is normally inactive.
	LoginSocket string `json:"login_socket"`
	// RDPDenied is fDenyTSConnections = 1 (Windows): remote desktop is off.
	RDPDenied bool `json:"rdp_denied"`
	// ListeningPorts are the TCP ports listening while the login service is
	// up. Default (nil): the login port.
	ListeningPorts []int `json:"listening_ports"`
	// DiskUsedPercent is the root (system drive) filesystem use. Default: 40.
	DiskUsedPercent float64 `json:"disk_used_percent"`
	// InodeUsedPercent is the root filesystem inode use (Linux only). Default: 10.
	InodeUsedPercent float64 `json:"inode_used_percent"`
	// GuestFirewall is the firewall inside the guest: "ufw", "firewalld",
	// "iptables", "windows", or "" for none.
	GuestFirewall string `json:"guest_firewall"`
	// FirewallBlocksLoginPort says the guest firewall drops the login port:
	// the port probe times out. Needs a GuestFirewall. open_guest_firewall
	// clears it; its undo sets it again.
	FirewallBlocksLoginPort bool `json:"firewall_blocks_login_port"`
	// KeyFilesUnsafe says the login user's home, ~/.ssh and authorized_keys
	// are writable by others, so sshd's StrictModes refuses every key
	// (Linux). fix_authorized_keys clears it.
	KeyFilesUnsafe bool `json:"key_files_unsafe"`
	// SSHDConfigInvalid says sshd -t rejects sshd_config (Linux):
	// restart_login_service refuses to restart.
	SSHDConfigInvalid bool `json:"sshd_config_invalid"`
}

// The defaults, also what a reboot brings the load back to.
const (
	defaultRegion  = "ap-guangzhou"
	osLinux        = "linux"
	osWindows      = "windows"
	chargePrepaid  = "PREPAID"
	manualRenew    = "NOTIFY_AND_MANUAL_RENEW"
	idleCPU        = 20.0
	idleMemory     = 20.0
	linuxOsName    = "CentOS 7.6 64bit"
	windowsOsName  = "Windows Server 2019 DataCenter 64bit"
	linuxLoginPort = 22
	rdpLoginPort   = 3389
	anywhereIPv4   = "0.0.0.0/0"
	anywhereIPv6   = "::/0"
	actionAccept   = "ACCEPT"
	actionDrop     = "DROP"
	stateRunning   = "RUNNING"
	restrictNormal = "NORMAL"
	addressTypeWan = "WanIP"
	ddosNormal     = "2"
	ddosBlocked    = "1"
	protocolTCP    = "TCP"
	protocolICMP   = "ICMP"
	protocolAll    = "ALL"
	portAll        = "ALL"
	notIsolated    = "NOTISOLATED"
	chargePostpaid = "POSTPAID_BY_HOUR"
	minInvocPolls  = 1
	maxPercent     = 100.0
)

// DefaultScenario returns a healthy Linux instance without an ID or public
// IP: the starting point of every scenario.
func DefaultScenario() Scenario {
	return Scenario{
		Region:               defaultRegion,
		OS:                   osLinux,
		State:                stateRunning,
		RestrictState:        restrictNormal,
		IsolatedSource:       notIsolated,
		ChargeType:           chargePostpaid,
		BandwidthOutMbps:     5,
		Address:              AddressState{Type: addressTypeWan},
		DDoSStatus:           ddosNormal,
		CPU:                  idleCPU,
		Memory:               idleMemory,
		BandwidthOutUsedMbps: 0.5,
		Agent:                AgentState{Present: true, Online: true},
		Guest:                GuestState{LoginServiceUp: true, DiskUsedPercent: 40, InodeUsedPercent: 10},
		InvocationPolls:      minInvocPolls,
	}
}

// defaultLoginPort is an OS's usual login port: 3389 on Windows, else 22.
func defaultLoginPort(os string) int {
	if os == osWindows {
		return rdpLoginPort
	}
	return linuxLoginPort
}

// loginService is the login service unit the guest script reports.
func (g GuestState) loginService(os string) string {
	switch {
	case g.LoginService != "":
		return g.LoginService
	case os == osWindows:
		return "TermService"
	case g.LoginSocket != "":
		return "ssh"
	}
	return "sshd"
}

// withDefaults fills empty strings and nil lists with their defaults.
func (sc Scenario) withDefaults() Scenario {
	def := DefaultScenario()
	fill := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	fill(&sc.Name, sc.ID)
	fill(&sc.Region, def.Region)
	fill(&sc.Zone, sc.Region+"-3")
	fill(&sc.OS, def.OS)
	fill(&sc.OsName, map[string]string{osLinux: linuxOsName, osWindows: windowsOsName}[sc.OS])
	fill(&sc.State, def.State)
	fill(&sc.RestrictState, def.RestrictState)
	fill(&sc.IsolatedSource, def.IsolatedSource)
	fill(&sc.ChargeType, def.ChargeType)
	if sc.ChargeType == chargePrepaid {
		fill(&sc.RenewFlag, manualRenew)
	}
	if sc.LoginPort == 0 {
		sc.LoginPort = defaultLoginPort(sc.OS)
	}
	fill(&sc.Address.Type, def.Address.Type)
	fill(&sc.DDoSStatus, def.DDoSStatus)
	if sc.PrivateIPs == nil {
		sum := sha256.Sum256([]byte(sc.ID))
		sc.PrivateIPs = []string{fmt.Sprintf("10.0.%d.%d", sum[0], 2+sum[1]%250)}
	}
	if sc.SecurityGroups == nil && len(sc.ID) > len("ins-") {
		sc.SecurityGroups = []SecurityGroup{defaultGroup("sg-"+sc.ID[len("ins-"):], sc.LoginPort)}
	}
	for i := range sc.SecurityGroups {
		if sc.SecurityGroups[i].Egress == nil {
			sc.SecurityGroups[i].Egress = []Rule{{Protocol: protocolAll, CidrBlock: anywhereIPv4, Action: actionAccept}}
		}
		sc.SecurityGroups[i].Ingress = withDefaultSources(sc.SecurityGroups[i].Ingress)
		sc.SecurityGroups[i].Egress = withDefaultSources(sc.SecurityGroups[i].Egress)
	}
	if sc.Guest.ListeningPorts == nil {
		sc.Guest.ListeningPorts = []int{sc.LoginPort}
	}
	sc.InvocationPolls = max(sc.InvocationPolls, minInvocPolls)
	return sc
}

// defaultGroup is a healthy group: the login port and ping from anywhere,
// nothing else.
func defaultGroup(id string, loginPort int) SecurityGroup {
	return SecurityGroup{ID: id, Ingress: []Rule{
		{Protocol: protocolTCP, Port: fmt.Sprint(loginPort), CidrBlock: anywhereIPv4, Action: actionAccept, Description: "login"},
		{Protocol: protocolICMP, CidrBlock: anywhereIPv4, Action: actionAccept, Description: "ping"},
		{Protocol: protocolAll, CidrBlock: anywhereIPv4, Action: actionDrop, Description: "deny the rest"},
	}}
}

func withDefaultSources(rules []Rule) []Rule {
	out := slices.Clone(rules)
	for i, r := range out {
		if r.CidrBlock == "" && r.Ipv6CidrBlock == "" && r.SourceGroupID == "" && r.AddressTemplate == "" {
			out[i].CidrBlock = anywhereIPv4
		}
	}
	return out
}

// clone returns a deep copy, so that callers cannot reach the Sim's state.
func (sc Scenario) clone() Scenario {
	sc.ExpectFail = slices.Clone(sc.ExpectFail)
	sc.ExpectStatus = maps.Clone(sc.ExpectStatus)
	sc.Tags = maps.Clone(sc.Tags)
	sc.PublicIPs = slices.Clone(sc.PublicIPs)
	sc.PublicIPv6s = slices.Clone(sc.PublicIPv6s)
	sc.Templates = slices.Clone(sc.Templates)
	for i, t := range sc.Templates {
		sc.Templates[i].Members = slices.Clone(t.Members)
	}
	if sc.Account != nil {
		a := *sc.Account
		sc.Account = &a
	}
	sc.PrivateIPs = slices.Clone(sc.PrivateIPs)
	sc.Guest.ListeningPorts = slices.Clone(sc.Guest.ListeningPorts)
	if sc.ExpiredTime != nil {
		t := *sc.ExpiredTime
		sc.ExpiredTime = &t
	}
	groups := make([]SecurityGroup, len(sc.SecurityGroups))
	for i, g := range sc.SecurityGroups {
		groups[i] = SecurityGroup{ID: g.ID, Ingress: slices.Clone(g.Ingress), Egress: slices.Clone(g.Egress)}
	}
	if sc.SecurityGroups != nil {
		sc.SecurityGroups = groups
	}
	return sc
}

var (
	instanceIDPattern = regexp.MustCompile(`^ins-[a-z0-9]{8}$`)
	groupIDPattern    = regexp.MustCompile(`^sg-[a-z0-9]{8}$`)
	templateIDPattern = regexp.MustCompile(`^(ipm|ipmg|ppm|ppmg)-[a-z0-9]{8}$`)
	// documentationV6 is 2001:db8::/32 (RFC 3849), never routed.
	documentationV6 = netip.MustParsePrefix("2001:db8::/32")
)

// CheckIDs are the check IDs of design.md B3 in packet-path order, the
// order in which a failure is most likely the cause of a failed login. The
// simulator states its expectations in these plain strings.
var CheckIDs = []string{
	"instance.found", "account.arrears", "instance.isolation", "instance.expired", "instance.state",
	"network.public_ip", "network.bandwidth_zero", "network.ip_blocked", "security_group.login_port",
	"port.reachable", "network.bandwidth_usage", "load.cpu", "load.memory", "guest.agent",
	"guest.login_service", "guest.login_config", "guest.disk", "security_group.icmp",
}

// The enumerations a scenario is checked against.
var (
	instanceStates = []string{"PENDING", "LAUNCH_FAILED", "RUNNING", "STOPPED", "STARTING", "STOPPING", "REBOOTING",
		"SHUTDOWN", "TERMINATING", "ENTER_RESCUE_MODE", "RESCUE_MODE", "EXIT_RESCUE_MODE",
		"ENTER_SERVICE_LIVE_MIGRATE", "SERVICE_LIVE_MIGRATE", "EXIT_SERVICE_LIVE_MIGRATE"}
	restrictStates  = []string{"NORMAL", "EXPIRED", "PROTECTIVELY_ISOLATED"}
	isolatedSources = []string{"NOTISOLATED", "ARREAR", "EXPIRE", "MANMADE"}
	chargeTypes     = []string{"PREPAID", "POSTPAID_BY_HOUR", "CDHPAID", "SPOTPAID", "CDCPAID"}
	renewFlags      = []string{"", "NOTIFY_AND_MANUAL_RENEW", "NOTIFY_AND_AUTO_RENEW", "DISABLE_NOTIFY_AND_MANUAL_RENEW"}
	eipTypes        = []string{"EIP", "AnycastEIP", "HighQualityEIP", "AntiDDoSEIP", "ResidentialEIP"}
	ddosStatuses    = []string{"1", "2", "3"}
)

// validate reports the first thing wrong with a scenario (after withDefaults).
func (sc Scenario) validate() error {
	checks := []func() error{
		sc.validateIdentity, sc.validateInstance, sc.validateAddresses, sc.validateGroups, sc.validateTemplates, sc.validateLevels,
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return fmt.Errorf("scenario %q: %w", sc.ID, err)
		}
	}
	return nil
}

func (sc Scenario) validateIdentity() error {
	if !instanceIDPattern.MatchString(sc.ID) {
		return fmt.Errorf("the ID must be \"ins-\" and 8 lowercase letters or digits, e.g. ins-abc12345")
	}
	for _, id := range slices.Concat(sc.ExpectFail, []string{sc.ExpectLikelyCause}, mapKeys(sc.ExpectStatus)) {
		if id != "" && !slices.Contains(CheckIDs, id) {
			return fmt.Errorf("%q is not a check ID (see CheckIDs)", id)
		}
	}
	for id, status := range sc.ExpectStatus {
		if !slices.Contains([]string{"ok", "warn", "fail", "unknown", "skipped"}, status) {
			return fmt.Errorf("expect_status: %s %q is not a status (ok, warn, fail, unknown, skipped)", id, status)
		}
	}
	return nil
}

func (sc Scenario) validateInstance() error {
	enums := []struct {
		field, value string
		allowed      []string
	}{
		{"os", sc.OS, []string{osLinux, osWindows}},
		{"guest.guest_firewall", sc.Guest.GuestFirewall, guestFirewalls},
		{"state", sc.State, instanceStates},
		{"restrict_state", sc.RestrictState, restrictStates},
		{"isolated_source", sc.IsolatedSource, isolatedSources},
		{"charge_type", sc.ChargeType, chargeTypes},
		{"renew_flag", sc.RenewFlag, renewFlags},
		{"address.type", sc.Address.Type, append([]string{addressTypeWan}, eipTypes...)},
		{"ddos_status", sc.DDoSStatus, ddosStatuses},
	}
	for _, e := range enums {
		if !slices.Contains(e.allowed, e.value) {
			return fmt.Errorf("%s %q is not one of %s", e.field, e.value, strings.Join(e.allowed, ", "))
		}
	}
	return nil
}

func (sc Scenario) validateAddresses() error {
	for _, ip := range sc.PublicIPs {
		addr, err := netip.ParseAddr(ip)
		if err != nil || !addr.Is4() || !addr.IsLoopback() {
			return fmt.Errorf("public IP %q is not in 127.0.0.0/8: simulated public IPs must be loopback addresses, so that no probe ever leaves this machine", ip)
		}
	}
	for _, ip := range sc.PublicIPv6s {
		addr, err := netip.ParseAddr(ip)
		switch {
		case err != nil || !addr.Is6() || !documentationV6.Contains(addr):
			return fmt.Errorf("public IPv6 %q is not in 2001:db8::/32: simulated public IPv6 addresses must be documentation addresses, which the Dialer answers from loopback", ip)
		case addr.String() != ip:
			return fmt.Errorf("public IPv6 %q: write it in canonical form, %s", ip, addr)
		}
	}
	for _, ip := range sc.PrivateIPs {
		if addr, err := netip.ParseAddr(ip); err != nil || !addr.Is4() {
			return fmt.Errorf("private IP %q is not an IPv4 address", ip)
		}
	}
	return nil
}

func (sc Scenario) validateGroups() error {
	for _, g := range sc.SecurityGroups {
		if !groupIDPattern.MatchString(g.ID) {
			return fmt.Errorf("security group ID %q must be \"sg-\" and 8 lowercase letters or digits", g.ID)
		}
		for _, r := range slices.Concat(g.Ingress, g.Egress) {
			if err := r.check(true); err != nil {
				return fmt.Errorf("security group %s: %w", g.ID, err)
			}
		}
	}
	return nil
}

// validateTemplates checks the scenario's templates: IDs, and members of
// the right kind (a group's members are templates of the same scenario).
func (sc Scenario) validateTemplates() error {
	kinds := map[string]string{}
	for _, t := range sc.Templates {
		if !templateIDPattern.MatchString(t.ID) {
			return fmt.Errorf("template ID %q must be ipm-, ipmg-, ppm- or ppmg- and 8 lowercase letters or digits", t.ID)
		}
		kinds[t.ID], _, _ = strings.Cut(t.ID, "-")
	}
	refs := References{Templates: sc.Templates}
	for _, t := range sc.Templates {
		if err := refs.checkTemplate(t, kinds); err != nil {
			return err
		}
	}
	return nil
}

// validateTemplateRefs checks that every template a rule names exists in
// the scenario's region (templates belong to the account, so another
// scenario may hold it): the API refuses dangling references.
func validateTemplateRefs(scenarios []Scenario) error {
	known := map[string]bool{}
	for _, sc := range scenarios {
		for _, t := range sc.Templates {
			known[sc.Region+" "+t.ID] = true
		}
	}
	for _, sc := range scenarios {
		for _, g := range sc.SecurityGroups {
			for _, r := range slices.Concat(g.Ingress, g.Egress) {
				for _, id := range []string{r.AddressTemplate, r.ServiceTemplate} {
					if id != "" && !known[sc.Region+" "+id] {
						return fmt.Errorf("scenario %q: security group %s: the template %s is not among the templates of %s", sc.ID, g.ID, id, sc.Region)
					}
				}
			}
		}
	}
	return nil
}

func (sc Scenario) validateLevels() error {
	percents := []struct {
		field string
		value float64
	}{
		{"cpu", sc.CPU}, {"memory", sc.Memory},
		{"guest.disk_used_percent", sc.Guest.DiskUsedPercent}, {"guest.inode_used_percent", sc.Guest.InodeUsedPercent},
	}
	for _, p := range percents {
		if p.value < 0 || p.value > maxPercent {
			return fmt.Errorf("%s %v is not a percentage (0-100)", p.field, p.value)
		}
	}
	switch {
	case sc.BandwidthOutMbps < 0:
		return fmt.Errorf("bandwidth_out_mbps %d is negative", sc.BandwidthOutMbps)
	case sc.BandwidthOutUsedMbps < 0:
		return fmt.Errorf("bandwidth_out_used_mbps %v is negative", sc.BandwidthOutUsedMbps)
	}
	if sc.LoginPort < 1 || sc.LoginPort > maxPort {
		return fmt.Errorf("login_port %d is not a TCP port", sc.LoginPort)
	}
	for _, p := range sc.Guest.ListeningPorts {
		if p < 1 || p > maxPort {
			return fmt.Errorf("guest.listening_ports: %d is not a TCP port", p)
		}
	}
	if sc.Guest.FirewallBlocksLoginPort && sc.Guest.GuestFirewall == "" {
		return errors.New("guest.firewall_blocks_login_port needs a guest.guest_firewall")
	}
	return nil
}

// validateSet checks scenarios one by one and together: IDs, public IPs and
// security-group IDs are unique.
func validateSet(scenarios []Scenario) error {
	var errs []error
	seen := map[string]string{}
	claim := func(kind, value, owner string) {
		key := kind + " " + value
		if first, ok := seen[key]; ok {
			errs = append(errs, fmt.Errorf("scenario %q: %s %s is already used by scenario %q", owner, kind, value, first))
			return
		}
		seen[key] = owner
	}
	for _, sc := range scenarios {
		if err := sc.validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		claim("instance ID", sc.ID, sc.ID)
		for _, ip := range sc.PublicIPs {
			claim("public IP", ip, sc.ID)
		}
		for _, ip := range sc.PublicIPv6s {
			claim("public IP", ip, sc.ID)
		}
		for _, g := range sc.SecurityGroups {
			claim("security group", g.ID, sc.ID)
		}
		for _, t := range sc.Templates {
			claim("template", t.ID, sc.ID)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, validateTemplateRefs(scenarios))
	}
	return errors.Join(errs...)
}

// LoadScenarios reads a JSON scenario file: either a list of scenarios or
// {"scenarios": [...]}. Each scenario starts from DefaultScenario, so a file
// states only what differs; unknown fields are errors. It validates every
// scenario (ID format, enumerations, loopback-only public IPs, rules) and
// that IDs, public IPs and security-group IDs are unique, and returns the
// scenarios with their defaults filled in.
func LoadScenarios(r io.Reader) ([]Scenario, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading scenarios: %w", err)
	}
	raws, err := scenarioList(data)
	if err != nil {
		return nil, err
	}
	scenarios := make([]Scenario, len(raws))
	for i, raw := range raws {
		sc := DefaultScenario()
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sc); err != nil {
			return nil, fmt.Errorf("decoding scenario %d: %w", i+1, err)
		}
		scenarios[i] = sc.withDefaults()
	}
	if err := validateSet(scenarios); err != nil {
		return nil, fmt.Errorf("invalid scenarios: %w", err)
	}
	return scenarios, nil
}

func scenarioList(data []byte) ([]json.RawMessage, error) {
	var list []json.RawMessage
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &list); err != nil {
			return nil, fmt.Errorf("decoding the scenario list: %w", err)
		}
		return list, nil
	}
	var file struct {
		Scenarios []json.RawMessage `json:"scenarios"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("decoding the scenario file (a list, or {\"scenarios\": [...]}): %w", err)
	}
	return file.Scenarios, nil
}
