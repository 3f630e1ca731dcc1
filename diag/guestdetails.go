package diag

import (
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cvmlogin/cvmlogin/internal/textclip"
)

//go:embed guestchecks/linux_login.sh
var linuxLoginScript string

//go:embed guestchecks/windows_login.ps1
var windowsLoginScript string

// LoginDetails is what the read-only login-details script reports: the
// settings inside the guest that decide whether a login that reaches the
// service is accepted.
type LoginDetails struct {
	// Linux.
	SSHDConfigValid string // "yes", "no", or "" when sshd is not installed
	SSHDConfigError string
	SSHDPorts       []int
	PasswordAuth    string // sshd -T values, lower case: "yes", "no"
	PubkeyAuth      string
	PermitRootLogin string
	AllowUsers      []string
	AllowGroups     []string
	DenyUsers       []string
	MaxStartups     string
	LoginUser       string
	LoginUserAbsent bool
	// KeyFiles are "mode owner" of home, ~/.ssh and authorized_keys, in that
	// order; fewer than three when a file is missing.
	KeyFiles       []string
	KeyCount       int
	AccountStatus  string // passwd -S: P, L/LK (locked), NP (no password)
	AccountExpires string // chage -l: "never" or a date
	HostsDeny      string
	// GuestFirewall is firewalld, ufw, iptables, windows or none;
	// FirewallAllowsPort is yes, no or unknown.
	GuestFirewall      string
	FirewallAllowsPort string
	// Windows.
	RDPDenied          bool
	RDPPort            int
	NLA                bool
	CredSSPOracle      string // AllowEncryptionOracle: 0 force updated, 1 mitigated, 2 vulnerable
	RemoteDesktopUsers []string
	RDPFirewallEnabled bool
}

// LoginDetailsCommand returns the TAT command of the read-only login-details
// script. port and user come from the diagnosis (the login port and the
// image's login user), never from a chat message.
func LoginDetailsCommand(os, instanceID string, port int, user string) (Command, error) {
	p := RepairParams{Port: port, User: user}
	if err := p.validate(); err != nil {
		return Command{}, fmt.Errorf("login details: %w", err)
	}
	cmd := Command{InstanceID: instanceID, Timeout: repairTimeout, Name: "cvmlogin-login-details"}
	if os == OSWindows {
		cmd.Type, cmd.Script = "POWERSHELL", p.powershellHeader()+windowsLoginScript
	} else {
		cmd.Type, cmd.Script = "SHELL", "#!/bin/sh\n"+p.shellHeader()+linuxLoginScript
	}
	return cmd, nil
}

// ParseLoginDetails parses the login-details script's output.
func ParseLoginDetails(out string) (LoginDetails, error) {
	var d LoginDetails
	if scanFacts(out, d.set) == 0 {
		return d, fmt.Errorf("the login-details script printed nothing (output starts %s)", strconv.Quote(textclip.Bytes(out, 80)))
	}
	return d, nil
}

func (d *LoginDetails) set(key, v string) bool {
	lower := strings.ToLower(v)
	switch key {
	case "sshd_config_valid":
		d.SSHDConfigValid = lower
	case "sshd_config_error":
		d.SSHDConfigError = v
	case "sshd_port":
		d.SSHDPorts = parsePortList(v)
	case "sshd_passwordauthentication":
		d.PasswordAuth = lower
	case "sshd_pubkeyauthentication":
		d.PubkeyAuth = lower
	case "sshd_permitrootlogin":
		d.PermitRootLogin = lower
	case "sshd_allowusers":
		d.AllowUsers = words(v)
	case "sshd_allowgroups":
		d.AllowGroups = words(v)
	case "sshd_denyusers":
		d.DenyUsers = words(v)
	case "sshd_maxstartups":
		d.MaxStartups = v
	case "login_user":
		d.LoginUser = v
	case "login_user_missing":
		d.LoginUser, d.LoginUserAbsent = v, true
	case "authorized_keys_modes":
		d.KeyFiles = splitNonEmpty(v, ";")
	case "authorized_keys_count":
		d.KeyCount, _ = strconv.Atoi(v)
	case "account_status":
		d.AccountStatus = strings.ToUpper(v)
	case "account_expires":
		d.AccountExpires = v
	case "hosts_deny":
		d.HostsDeny = v
	case "guest_firewall":
		d.GuestFirewall = lower
	case "guest_firewall_allows_port":
		d.FirewallAllowsPort = lower
	case "rdp_denied":
		d.RDPDenied = lower == "true"
	case "rdp_port":
		d.RDPPort, _ = strconv.Atoi(v)
	case "rdp_nla":
		d.NLA = lower == "true"
	case "credssp_allow_encryption_oracle":
		d.CredSSPOracle = v
	case "remote_desktop_users":
		d.RemoteDesktopUsers = splitNonEmpty(v, ",")
	case "rdp_firewall_rules_enabled":
		d.RDPFirewallEnabled = lower == "true"
	default:
		return false
	}
	return true
}

func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

func splitNonEmpty(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// GuestProblem is one thing inside the guest that stops a login, and the
// repair that fixes it, if there is one.
type GuestProblem struct {
	Severity    Severity
	Title       string
	Detail      string
	Remediation string
	Fix         FixAction // "" when only a person can fix it
}

// Problems returns what in d stops a login to port, worst first. now decides
// whether an account expiry date has passed.
func (d LoginDetails) Problems(port int, now time.Time) []GuestProblem {
	var ps []GuestProblem
	for _, rule := range guestRules {
		if p, ok := rule(d, port, now); ok {
			ps = append(ps, p)
		}
	}
	slices.SortStableFunc(ps, func(a, b GuestProblem) int { return severityRank(a.Severity) - severityRank(b.Severity) })
	return ps
}

func severityRank(s Severity) int {
	return slices.Index([]Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityInfo}, s)
}

// guestRules are the checks of LoginDetails, each reporting one problem.
var guestRules = []func(d LoginDetails, port int, now time.Time) (GuestProblem, bool){
	ruleSSHDConfig, ruleSSHDPort, rulePubkey, ruleRootLogin, ruleAllowDenyUsers, ruleKeyFiles,
	ruleAccount, ruleHostsDeny, ruleGuestFirewall, ruleRDPDenied, ruleRDPFirewall, ruleRDPPort, ruleRDPUsers,
}

func ruleSSHDConfig(d LoginDetails, _ int, _ time.Time) (GuestProblem, bool) {
	return GuestProblem{Severity: SeverityCritical, Title: "sshd's configuration is invalid",
		Detail:      "sshd -t rejects sshd_config: " + orDash(d.SSHDConfigError),
		Remediation: "Fix sshd_config through the VNC console (a restart would leave SSH down until then)."}, d.SSHDConfigValid == "no"
}

func ruleSSHDPort(d LoginDetails, port int, _ time.Time) (GuestProblem, bool) {
	if len(d.SSHDPorts) == 0 || slices.Contains(d.SSHDPorts, port) {
		return GuestProblem{}, false
	}
	return GuestProblem{Severity: SeverityHigh, Title: fmt.Sprintf("sshd listens on %s, not %d", joinPorts(d.SSHDPorts), port),
		Detail:      "sshd -T reports Port " + joinPorts(d.SSHDPorts) + ".",
		Remediation: fmt.Sprintf("Connect with `ssh -p %d`, or diagnose that port with --port %d.", d.SSHDPorts[0], d.SSHDPorts[0])}, true
}

func rulePubkey(d LoginDetails, _ int, _ time.Time) (GuestProblem, bool) {
	return GuestProblem{Severity: SeverityHigh, Title: "Key login is off (PubkeyAuthentication no)",
		Detail:      "sshd refuses every key; password login is " + orDash(d.PasswordAuth) + ".",
		Remediation: "Set PubkeyAuthentication yes in sshd_config through VNC, then restart sshd."}, d.PubkeyAuth == "no"
}

func ruleRootLogin(d LoginDetails, _ int, _ time.Time) (GuestProblem, bool) {
	return GuestProblem{Severity: SeverityHigh, Title: "root may not log in (PermitRootLogin no)",
		Detail:      "The login user is root and sshd has PermitRootLogin no.",
		Remediation: "Log in as another user, or allow root with keys (PermitRootLogin prohibit-password)."}, d.LoginUser == "root" && d.PermitRootLogin == "no"
}

func ruleAllowDenyUsers(d LoginDetails, _ int, _ time.Time) (GuestProblem, bool) {
	u := d.LoginUser
	denied := slices.Contains(d.DenyUsers, u) || (len(d.AllowUsers) > 0 && !slices.Contains(d.AllowUsers, u) && len(d.AllowGroups) == 0)
	return GuestProblem{Severity: SeverityHigh, Title: fmt.Sprintf("sshd does not let %s log in", u),
		Detail:      fmt.Sprintf("AllowUsers %s, DenyUsers %s.", orDash(strings.Join(d.AllowUsers, " ")), orDash(strings.Join(d.DenyUsers, " "))),
		Remediation: "Add the user to AllowUsers (or remove it from DenyUsers) in sshd_config through VNC."}, u != "" && denied
}

func ruleKeyFiles(d LoginDetails, _ int, _ time.Time) (GuestProblem, bool) {
	if d.LoginUser == "" || d.LoginUserAbsent || len(d.KeyFiles) == 0 {
		return GuestProblem{}, false
	}
	if len(d.KeyFiles) < 3 || d.KeyCount == 0 {
		return GuestProblem{Severity: SeverityHigh, Title: "authorized_keys holds no key",
			Detail:      fmt.Sprintf("~%s/.ssh/authorized_keys is missing or empty.", d.LoginUser),
			Remediation: "Bind a key pair to the instance in the console, or log in with the password."}, true
	}
	for _, f := range d.KeyFiles {
		if !strictModesOK(f, d.LoginUser) {
			return GuestProblem{Severity: SeverityHigh, Title: "authorized_keys has unsafe ownership or modes",
				Detail:      "sshd's StrictModes refuses keys when home, ~/.ssh or authorized_keys is writable by others or owned by someone else: " + strings.Join(d.KeyFiles, "; "),
				Remediation: "Press Fix key permissions (chmod 700 ~/.ssh, 600 authorized_keys).", Fix: FixFixAuthorizedKeys}, true
		}
	}
	return GuestProblem{}, false
}

// strictModesOK reports whether "mode owner" passes sshd's StrictModes.
func strictModesOK(modeOwner, user string) bool {
	mode, owner, _ := strings.Cut(modeOwner, " ")
	m, err := strconv.ParseUint(mode, 8, 32)
	return err == nil && m&0o022 == 0 && (owner == user || owner == "root")
}

func ruleAccount(d LoginDetails, _ int, now time.Time) (GuestProblem, bool) {
	p := GuestProblem{Severity: SeverityHigh, Remediation: "Unlock or renew the account through VNC (passwd -u, chage -E -1), or reset the password in the console."}
	switch {
	case d.AccountStatus == "L" || d.AccountStatus == "LK":
		p.Title, p.Detail = fmt.Sprintf("The account %s is locked", d.LoginUser), "passwd -S reports L (locked): password login is refused."
		return p, true
	case accountExpired(d.AccountExpires, now):
		p.Title, p.Detail = fmt.Sprintf("The account %s expired", d.LoginUser), "chage -l: Account expires "+d.AccountExpires+"."
		return p, true
	}
	return p, false
}

// accountExpired parses chage's date ("Jan 02, 2026"); "never" or an
// unparseable date is not expired.
func accountExpired(s string, now time.Time) bool {
	t, err := time.Parse("Jan 02, 2006", s)
	return err == nil && t.Before(now)
}

func ruleHostsDeny(d LoginDetails, _ int, _ time.Time) (GuestProblem, bool) {
	return GuestProblem{Severity: SeverityMedium, Title: "hosts.deny may refuse SSH clients",
		Detail:      "/etc/hosts.deny: " + d.HostsDeny,
		Remediation: "Check that your address is not denied (and is in hosts.allow) through VNC."}, d.HostsDeny != ""
}

func ruleGuestFirewall(d LoginDetails, port int, _ time.Time) (GuestProblem, bool) {
	return GuestProblem{Severity: SeverityCritical, Title: fmt.Sprintf("The guest firewall (%s) blocks TCP %d", d.GuestFirewall, port),
		Detail:      "The security group is not the only firewall: the one inside the instance drops the login port too.",
		Remediation: "Press Open port in guest firewall.", Fix: FixOpenGuestFirewall}, d.FirewallAllowsPort == "no"
}

func ruleRDPDenied(d LoginDetails, _ int, _ time.Time) (GuestProblem, bool) {
	return GuestProblem{Severity: SeverityCritical, Title: "Remote Desktop is turned off",
		Detail:      "fDenyTSConnections is 1: Windows refuses every Remote Desktop connection.",
		Remediation: "Press Enable Remote Desktop.", Fix: FixEnableRDP}, d.RDPDenied
}

// ruleRDPFirewall: Windows Firewall is on and its Remote Desktop rules are
// disabled. (Turning Remote Desktop off disables them too: ruleRDPDenied
// tells that.)
func ruleRDPFirewall(d LoginDetails, port int, _ time.Time) (GuestProblem, bool) {
	blocked := d.GuestFirewall == "windows" && d.RDPPort != 0 && !d.RDPFirewallEnabled && !d.RDPDenied
	return GuestProblem{Severity: SeverityHigh, Title: "Windows Firewall's Remote Desktop rules are disabled",
		Detail:      fmt.Sprintf("No enabled rule of the Remote Desktop group lets TCP %d in, unless another rule allows it.", port),
		Remediation: "Press Enable Remote Desktop (it enables the Remote Desktop firewall rules).", Fix: FixEnableRDP}, blocked
}

func ruleRDPPort(d LoginDetails, port int, _ time.Time) (GuestProblem, bool) {
	return GuestProblem{Severity: SeverityHigh, Title: fmt.Sprintf("Remote Desktop listens on %d, not %d", d.RDPPort, port),
		Detail:      "RDP-Tcp PortNumber is not the port the security group and your client use.",
		Remediation: fmt.Sprintf("Connect to port %d (and open it in the security group), or set PortNumber back.", d.RDPPort)}, d.RDPPort != 0 && d.RDPPort != port
}

func ruleRDPUsers(d LoginDetails, _ int, _ time.Time) (GuestProblem, bool) {
	return GuestProblem{Severity: SeverityInfo, Title: "Only Administrators may use Remote Desktop",
		Detail:      "The Remote Desktop Users group is empty.",
		Remediation: "Add other accounts to Remote Desktop Users if they need to log in."}, d.RDPPort != 0 && len(d.RemoteDesktopUsers) == 0
}

func joinPorts(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}
