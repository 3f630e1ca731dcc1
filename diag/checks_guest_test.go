package diag

import (
	"slices"
	"strings"
	"testing"
)

// TestLoginConfigVerdict: the worst problem inside the guest decides
// guest.login_config (critical or high fail, medium warns, info is ok), every
// problem is told, and the repairs of the problems are offered.
func TestLoginConfigVerdict(t *testing.T) {
	const healthy = "cvmlogin.sshd_config_valid=yes\ncvmlogin.sshd_port=22\ncvmlogin.sshd_pubkeyauthentication=yes\n" +
		"cvmlogin.login_user=root\ncvmlogin.authorized_keys_modes=700 root;700 root;600 root\ncvmlogin.authorized_keys_count=1\n" +
		"cvmlogin.account_status=P\ncvmlogin.account_expires=never\ncvmlogin.guest_firewall=ufw\ncvmlogin.guest_firewall_allows_port=yes\n"
	tests := []struct {
		name     string
		windows  bool
		details  string
		want     Status
		severity Severity
		fixes    []FixAction
		says     []string
	}{
		{"healthy", false, healthy, StatusOK, SeverityInfo, nil, []string{"ufw"}},
		{"guest firewall blocks the port", false, healthy + "cvmlogin.guest_firewall_allows_port=no\n",
			StatusFail, SeverityCritical, []FixAction{FixOpenGuestFirewall}, []string{"ufw", "TCP 22"}},
		{"hosts.deny only warns", false, healthy + "cvmlogin.hosts_deny=sshd: ALL\n", StatusWarn, SeverityMedium, nil, []string{"sshd: ALL"}},
		{"every problem is told, every repair offered", false,
			healthy + "cvmlogin.guest_firewall_allows_port=no\ncvmlogin.authorized_keys_modes=755 root;777 root;600 root\ncvmlogin.hosts_deny=ALL: ALL\n",
			StatusFail, SeverityCritical, []FixAction{FixOpenGuestFirewall, FixFixAuthorizedKeys}, []string{"and 2 more problems", "777 root", "ALL: ALL"}},
		{"windows without extra rdp users is ok with a note", true,
			"cvmlogin.rdp_denied=false\ncvmlogin.rdp_port=3389\ncvmlogin.remote_desktop_users=\ncvmlogin.rdp_firewall_rules_enabled=true\ncvmlogin.guest_firewall=windows\n",
			StatusOK, SeverityInfo, nil, []string{"Only Administrators"}},
		{"windows with rdp denied", true, "cvmlogin.rdp_denied=true\ncvmlogin.rdp_port=3389\ncvmlogin.remote_desktop_users=ops\n",
			StatusFail, SeverityCritical, []FixAction{FixEnableRDP}, []string{"fDenyTSConnections"}},
		{"windows firewall with the rdp rules disabled", true,
			"cvmlogin.rdp_denied=false\ncvmlogin.rdp_port=3389\ncvmlogin.remote_desktop_users=ops\ncvmlogin.rdp_firewall_rules_enabled=false\ncvmlogin.guest_firewall=windows\n",
			StatusFail, SeverityHigh, []FixAction{FixEnableRDP}, []string{"Remote Desktop rules are disabled"}},
		{"script printing nothing is unknown", false, "login banner\n", StatusUnknown, SeverityLow, nil, []string{"printed nothing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := healthyFake()
			c.outputs = map[string]string{"cvmlogin-login-details": tc.details}
			if tc.windows {
				c.inst.OSName, c.inst.DefaultLoginPort = "Windows Server 2022", 3389
				c.facts = GuestFacts{OS: "windows", LoginService: "TermService", LoginServiceState: "running", ListeningPorts: []int{3389}, DiskUsedPercent: 50, InodeUsedPercent: -1}
				c.groups["sg-12345678"] = SecurityGroupPolicies{Ingress: []SecurityGroupPolicy{{Protocol: "ALL", Port: "ALL", CidrBlock: "0.0.0.0/0", Action: "ACCEPT"}}}
			}
			f := statusOf(t, diagnose(t, c, openDialer{}), CheckGuestLoginConfig)
			if f.Status != tc.want || f.Severity != tc.severity || !slices.Equal(f.Fixes, append([]FixAction{}, tc.fixes...)) {
				t.Fatalf("%s %s fixes %v (%s: %s); want %s %s fixes %v", f.Status, f.Severity, f.Fixes, f.Title, f.Detail, tc.want, tc.severity, tc.fixes)
			}
			text := f.Title + " " + f.Detail + " " + f.Remediation
			for _, s := range tc.says {
				if !strings.Contains(text, s) {
					t.Errorf("the finding does not say %q: %s", s, text)
				}
			}
		})
	}
}

// TestLoginServiceOffersRestart: a login service that is down offers the
// guest restart before the instance reboot; RDP turned off offers enable_rdp.
func TestLoginServiceOffersRestart(t *testing.T) {
	c := healthyFake()
	c.facts.LoginServiceState, c.facts.ListeningPorts = "inactive", nil
	if f := statusOf(t, diagnose(t, c, openDialer{}), CheckGuestLoginService); !slices.Equal(f.Fixes, []FixAction{FixRestartLoginService, FixRestartInstance}) {
		t.Errorf("sshd down offers %v", f.Fixes)
	}
	c = healthyFake()
	c.facts.RDPDenied = true
	if f := statusOf(t, diagnose(t, c, openDialer{}), CheckGuestLoginService); !slices.Equal(f.Fixes, []FixAction{FixEnableRDP}) {
		t.Errorf("RDP denied offers %v", f.Fixes)
	}
}

// TestReportNamesTheLoginUser: the login user is DefaultLoginUser, else the
// image's usual user; Windows has none in the summary.
func TestReportNamesTheLoginUser(t *testing.T) {
	tests := []struct{ osName, defaultUser, want string }{
		{"CentOS 7.6 64bit", "", "root"},
		{"Ubuntu Server 22.04 LTS 64bit", "", "ubuntu"},
		{"Ubuntu Server 22.04 LTS 64bit", "lighthouse", "lighthouse"},
		{"Windows Server 2022", "Administrator", ""},
		{"CentOS 7.6 64bit", "Bad User", ""},
	}
	for _, tc := range tests {
		c := healthyFake()
		c.inst.OSName, c.inst.DefaultLoginUser = tc.osName, tc.defaultUser
		if got := diagnose(t, c, openDialer{}).Instance.LoginUser; got != tc.want {
			t.Errorf("%s, DefaultLoginUser %q: login user %q, want %q", tc.osName, tc.defaultUser, got, tc.want)
		}
	}
}

// TestRefusalsLookInsideTheGuestFirst: a refused key, password or RDP
// account is about the login settings inside the guest: that check comes
// first.
func TestRefusalsLookInsideTheGuestFirst(t *testing.T) {
	for _, text := range []string{"root@203.0.113.7: Permission denied (publickey,gssapi-keyex,gssapi-with-mic).",
		"Permission denied, please try again.", "The connection was denied because the user account is not authorized for remote login."} {
		if s := ClassifySymptom(text, ""); s == nil || len(s.Focus) == 0 || s.Focus[0] != CheckGuestLoginConfig {
			t.Errorf("%q focuses %v first, want %s", text, s, CheckGuestLoginConfig)
		}
	}
}
