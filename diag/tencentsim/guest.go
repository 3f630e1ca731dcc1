package tencentsim

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// scriptMarker starts the line by which a cvmlogin script names itself:
// "# cvmlogin-script: login-details" or "# cvmlogin-script: <repair action>".
const scriptMarker = "# cvmlogin-script: "

// The scripts the simulated guest tells apart by their marker.
const (
	scriptLoginDetails = "login-details"
	scriptRestart      = "restart_login_service"
	scriptOpenFirewall = "open_guest_firewall"
	scriptUndoFirewall = "undo_guest_firewall"
	scriptFixKeys      = "fix_authorized_keys"
	scriptEnableRDP    = "enable_rdp"
	firewallUFW        = "ufw"
	firewallFirewalld  = "firewalld"
	firewallIPTables   = "iptables"
	firewallWindows    = "windows"
	firewallNone       = "none"
	unsafeKeyFileModes = "755 %[1]s;777 %[1]s;666 %[1]s"
	safeKeyFileModes   = "700 %[1]s;700 %[1]s;600 %[1]s"
	sshdConfigError    = "/etc/ssh/sshd_config line 42: Bad configuration option: PermitRootLogn"
	defaultMaxStartups = "10:30:100"
	defaultLoginShell  = "/bin/bash"
)

// guestFirewalls are the guest firewalls a scenario may name.
var guestFirewalls = []string{"", firewallUFW, firewallFirewalld, firewallIPTables, firewallWindows}

// The parameter lines the Go side writes at the top of a script:
// CVMLOGIN_PORT='22' (shell) or $CvmloginPort = 22 (PowerShell).
var scriptParam = regexp.MustCompile(`(?m)^(?:CVMLOGIN_([A-Z_]+)='([^']*)'|\$Cvmlogin(\w+) = '?([^'\r\n]*)'?)\r?$`)

// script is a command's content as the simulated guest reads it.
type script struct {
	name   string            // the marker's name, "" for other scripts
	params map[string]string // PORT, USER, FIX_ID, MECHANISM (PowerShell names upper-cased)
}

// parseScript decodes a RunCommand Content and reads its marker and
// parameters.
func parseScript(content string) script {
	text, _ := base64.StdEncoding.DecodeString(content) // RunCommand checked it
	sc := script{params: map[string]string{}}
	for line := range strings.Lines(string(text)) {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), scriptMarker); ok && sc.name == "" {
			sc.name = strings.TrimSpace(name)
		}
	}
	for _, m := range scriptParam.FindAllStringSubmatch(string(text), -1) {
		if m[1] != "" {
			sc.params[m[1]] = m[2]
		} else {
			sc.params[powershellParam(m[3])] = m[4]
		}
	}
	return sc
}

// powershellParam maps $CvmloginFixId to FIX_ID, as the shell names it.
func powershellParam(name string) string {
	var b strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// runScript is what the guest prints for a command, after the command has
// changed it: the login details, a repair's result, or else the guest facts.
func (in *instance) runScript(content string) string {
	sc := parseScript(content)
	switch sc.name {
	case scriptLoginDetails:
		return in.loginDetails(sc)
	case scriptRestart, scriptOpenFirewall, scriptUndoFirewall, scriptFixKeys, scriptEnableRDP:
		return in.repair(sc)
	}
	return in.guestOutput()
}

// facts renders "cvmlogin.<key>=<value>" lines.
func facts(pairs ...[2]string) string {
	var b strings.Builder
	for _, f := range pairs {
		b.WriteString("cvmlogin." + f[0] + "=" + f[1] + "\n")
	}
	return b.String()
}

// loginDetails is what the login-details script prints.
func (in *instance) loginDetails(sc script) string {
	g := in.sc.Guest
	port, _ := strconv.Atoi(sc.params["PORT"])
	allows := "yes"
	switch {
	case g.GuestFirewall == "":
		allows = "unknown"
	case g.FirewallBlocksLoginPort && port == in.sc.LoginPort:
		allows = "no"
	}
	if in.sc.OS == osWindows {
		return facts(
			[2]string{"rdp_denied", strconv.FormatBool(g.RDPDenied)},
			[2]string{"rdp_port", strconv.Itoa(in.sc.LoginPort)},
			[2]string{"rdp_nla", "true"},
			[2]string{"credssp_allow_encryption_oracle", ""},
			[2]string{"remote_desktop_users", ""},
			[2]string{"rdp_firewall_rules_enabled", strconv.FormatBool(!g.RDPDenied && !g.FirewallBlocksLoginPort)},
			[2]string{"guest_firewall", orNone(g.GuestFirewall)},
		)
	}
	var out []([2]string)
	if g.SSHDConfigInvalid {
		out = append(out, [2]string{"sshd_config_valid", "no"}, [2]string{"sshd_config_error", sshdConfigError})
	} else {
		out = append(out, [2]string{"sshd_config_valid", "yes"}, [2]string{"sshd_port", strconv.Itoa(in.sc.LoginPort)},
			[2]string{"sshd_passwordauthentication", "yes"}, [2]string{"sshd_pubkeyauthentication", "yes"},
			[2]string{"sshd_permitrootlogin", "yes"}, [2]string{"sshd_allowusers", ""}, [2]string{"sshd_allowgroups", ""},
			[2]string{"sshd_denyusers", ""}, [2]string{"sshd_maxstartups", defaultMaxStartups})
	}
	if user := sc.params["USER"]; user != "" {
		out = append(out, [2]string{"login_user", user}, [2]string{"login_shell", defaultLoginShell},
			[2]string{"authorized_keys_modes", keyFileModes(g.KeyFilesUnsafe, user)}, [2]string{"authorized_keys_count", "1"},
			[2]string{"account_status", "P"}, [2]string{"account_expires", "never"}, [2]string{"password_expires", "never"})
	} else {
		out = append(out, [2]string{"login_user_missing", ""})
	}
	out = append(out, [2]string{"hosts_deny", ""}, [2]string{"guest_firewall", orNone(g.GuestFirewall)},
		[2]string{"guest_firewall_allows_port", allows})
	return facts(out...)
}

func orNone(firewall string) string {
	if firewall == "" {
		return firewallNone
	}
	return firewall
}

// keyFileModes is stat's "mode owner" of home, ~/.ssh and authorized_keys.
func keyFileModes(unsafe bool, user string) string {
	format := safeKeyFileModes
	if unsafe {
		format = unsafeKeyFileModes
	}
	return fmt.Sprintf(format, user)
}

// renderRepair renders a repair's output: the extra lines (repair_undo,
// repair_before), then its result and detail.
func renderRepair(result, detail string, extra ...[2]string) string {
	return facts(append(extra, [2]string{"repair_result", result}, [2]string{"repair_detail", detail})...)
}

// repair changes the guest as the repair script would and returns its
// output: repair_result, repair_detail and, where the script prints them,
// repair_undo and repair_before.
func (in *instance) repair(sc script) string {
	switch sc.name {
	case scriptRestart:
		return in.restartLoginService()
	case scriptOpenFirewall:
		return in.openFirewall(sc.params["FIX_ID"])
	case scriptUndoFirewall:
		return in.undoFirewall(sc.params["FIX_ID"])
	case scriptFixKeys:
		return in.fixKeyFiles(sc.params["USER"])
	}
	return in.enableRDP()
}

// restartLoginService starts the login service, unless sshd's
// configuration is invalid.
func (in *instance) restartLoginService() string {
	g, windows := &in.sc.Guest, in.sc.OS == osWindows
	if g.SSHDConfigInvalid && !windows {
		return renderRepair("refused", "sshd -t rejects the configuration, so a restart would leave SSH down: "+sshdConfigError)
	}
	g.LoginServiceUp = true
	return renderRepair("changed", "restarted "+g.loginService(in.sc.OS)+" (state: "+serviceState(windows, true)+")")
}

// fixKeyFiles makes the login user's key files safe.
func (in *instance) fixKeyFiles(user string) string {
	g := &in.sc.Guest
	if user == "" {
		return renderRepair("refused", "no user on the instance")
	}
	// The repair script prints stat's "%a %U:%G;" of each file.
	before := [2]string{"repair_before", strings.ReplaceAll(keyFileModes(g.KeyFilesUnsafe, user), " "+user, " "+user+":"+user) + ";"}
	if !g.KeyFilesUnsafe {
		return renderRepair("unchanged", "ownership and modes were already right: "+before[1], before)
	}
	g.KeyFilesUnsafe = false
	return renderRepair("changed", "home, .ssh, authorized_keys now "+keyFileModes(false, user), before)
}

// enableRDP allows Remote Desktop connections and enables the Remote
// Desktop firewall rules.
func (in *instance) enableRDP() string {
	g := &in.sc.Guest
	deny, rulesOff := 0, 0
	if g.RDPDenied {
		deny = 1
	}
	if g.RDPDenied || g.FirewallBlocksLoginPort {
		rulesOff = 3 // TCP, UDP and shadow
	}
	before := [2]string{"repair_before", fmt.Sprintf("fDenyTSConnections=%d; disabled Remote Desktop firewall rules: %d", deny, rulesOff)}
	if deny == 0 && rulesOff == 0 {
		return renderRepair("unchanged", "Remote Desktop was already allowed and its firewall rules enabled", before)
	}
	g.RDPDenied, g.FirewallBlocksLoginPort = false, false
	return renderRepair("changed", "Remote Desktop is allowed and its firewall rules are enabled", before)
}

// openFirewall opens the login port in the guest firewall, remembering
// what the rule tagged with fixID changed.
func (in *instance) openFirewall(fixID string) string {
	g := &in.sc.Guest
	port := strconv.Itoa(in.sc.LoginPort) + "/tcp"
	switch {
	case g.GuestFirewall == "" && in.sc.OS != osWindows:
		return renderRepair("refused", "no firewalld, ufw or iptables found: nothing to open")
	case !g.FirewallBlocksLoginPort && g.GuestFirewall == firewallFirewalld:
		return renderRepair("unchanged", "firewalld already allows "+port)
	}
	mechanism := g.GuestFirewall
	if in.sc.OS == osWindows {
		mechanism = firewallWindows
	}
	if in.guestRules == nil {
		in.guestRules = map[string]bool{}
	}
	in.guestRules[fixID] = g.FirewallBlocksLoginPort
	g.FirewallBlocksLoginPort = false
	return renderRepair("changed", mechanism+" now allows "+port, [2]string{"repair_undo", mechanism})
}

// undoFirewall removes the rule tagged with fixID, and with it the opening
// it made.
func (in *instance) undoFirewall(fixID string) string {
	blocked, ok := in.guestRules[fixID]
	if !ok {
		return renderRepair("unchanged", "the cvmlogin:"+fixID+" rule is already gone")
	}
	delete(in.guestRules, fixID)
	in.sc.Guest.FirewallBlocksLoginPort = blocked
	return renderRepair("changed", "removed the cvmlogin:"+fixID+" rule")
}
