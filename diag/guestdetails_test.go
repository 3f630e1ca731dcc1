package diag

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// loginShims stand in for the read-only commands the login-details script
// asks; they print what the named distribution prints.
var loginShims = map[string]string{
	"sshd":     `[ "$1" = -T ] && printf 'port 22\nport 2222\npasswordauthentication no\npubkeyauthentication yes\npermitrootlogin without-password\nmaxstartups 10:30:100\n'`,
	"passwd":   `echo "$2 L 2026-01-01 0 99999 7 -1"`,
	"chage":    `printf 'Last password change\t\t\t\t\t: Jan 01, 2026\nPassword expires\t\t\t\t\t: never\nAccount expires\t\t\t\t\t\t: Jan 02, 2026\n'`,
	"iptables": `[ "$1" = -S ] && printf -- '-P INPUT ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j DROP\n'`,
}

func TestLinuxLoginDetailsScriptRuns(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	s := newGuestSandbox(t)
	for name, body := range loginShims {
		if err := os.WriteFile(filepath.Join(s.dir, "bin", name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(s.dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "authorized_keys"), []byte("ssh-ed25519 AAAA a\nssh-rsa AAAA b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, err := LoginDetailsCommand(OSLinux, "ins-abc12345", 22, me.Username)
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command("sh", "-c", cmd.Script)
	c.Env = append(s.env, "SHIM_USER="+me.Username, "SHIM_HOME="+home)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	d, err := ParseLoginDetails(string(out))
	if err != nil {
		t.Fatal(err)
	}
	want := LoginDetails{SSHDConfigValid: "yes", SSHDPorts: []int{22, 2222}, PasswordAuth: "no", PubkeyAuth: "yes",
		PermitRootLogin: "without-password", MaxStartups: "10:30:100", LoginUser: me.Username, KeyCount: 2,
		AccountStatus: "L", AccountExpires: "Jan 02, 2026", GuestFirewall: "iptables", FirewallAllowsPort: "no"}
	if !equalDetails(d, want) {
		t.Errorf("details\n got %+v\nwant %+v\noutput:\n%s", d, want, out)
	}
	// The home's mode depends on the host's umask; the other two are set above.
	if len(d.KeyFiles) != 3 || d.KeyFiles[1] != "700 "+me.Username || d.KeyFiles[2] != "644 "+me.Username {
		t.Errorf("key files %q, want home, 700 .ssh and 644 authorized_keys owned by %s", d.KeyFiles, me.Username)
	}
}

func equalDetails(a, b LoginDetails) bool {
	return a.SSHDConfigValid == b.SSHDConfigValid && slices.Equal(a.SSHDPorts, b.SSHDPorts) && a.PasswordAuth == b.PasswordAuth &&
		a.PubkeyAuth == b.PubkeyAuth && a.PermitRootLogin == b.PermitRootLogin && a.MaxStartups == b.MaxStartups &&
		a.LoginUser == b.LoginUser && a.KeyCount == b.KeyCount && a.AccountStatus == b.AccountStatus &&
		a.AccountExpires == b.AccountExpires && a.GuestFirewall == b.GuestFirewall && a.FirewallAllowsPort == b.FirewallAllowsPort
}

// Outputs of the login-details scripts captured on real images.
var capturedLoginDetails = map[string]string{
	"ubuntu-24.04-ufw-blocks": `cvmlogin.sshd_config_valid=yes
cvmlogin.sshd_port=22
cvmlogin.sshd_passwordauthentication=no
cvmlogin.sshd_pubkeyauthentication=yes
cvmlogin.sshd_permitrootlogin=without-password
cvmlogin.sshd_allowusers=
cvmlogin.sshd_allowgroups=
cvmlogin.sshd_denyusers=
cvmlogin.sshd_maxstartups=10:30:100
cvmlogin.login_user=ubuntu
cvmlogin.login_shell=/bin/bash
cvmlogin.authorized_keys_modes=750 ubuntu;700 ubuntu;600 ubuntu
cvmlogin.authorized_keys_count=1
cvmlogin.account_status=P
cvmlogin.account_expires=never
cvmlogin.password_expires=never
cvmlogin.hosts_deny=
cvmlogin.guest_firewall=ufw
cvmlogin.guest_firewall_allows_port=no
`,
	"centos-7-bad-modes": `cvmlogin.sshd_config_valid=yes
cvmlogin.sshd_port=22
cvmlogin.sshd_passwordauthentication=yes
cvmlogin.sshd_pubkeyauthentication=yes
cvmlogin.sshd_permitrootlogin=yes
cvmlogin.login_user=root
cvmlogin.authorized_keys_modes=550 root;777 root;666 root
cvmlogin.authorized_keys_count=1
cvmlogin.account_status=PS
cvmlogin.account_expires=never
cvmlogin.hosts_deny=sshd: ALL
cvmlogin.guest_firewall=firewalld
cvmlogin.guest_firewall_allows_port=yes
`,
	"debian-12-broken-config": `cvmlogin.sshd_config_valid=no
cvmlogin.sshd_config_error=/etc/ssh/sshd_config: line 14: Bad configuration option: PermitRootLogn /etc/ssh/sshd_config: terminating, 1 bad configuration options
cvmlogin.login_user=debian
cvmlogin.authorized_keys_modes=755 debian;700 debian
cvmlogin.authorized_keys_count=0
cvmlogin.account_status=P
cvmlogin.guest_firewall=none
cvmlogin.guest_firewall_allows_port=unknown
`,
	"rocky-9-sshd-2222-root-denied": `cvmlogin.sshd_config_valid=yes
cvmlogin.sshd_port=2222
cvmlogin.sshd_pubkeyauthentication=no
cvmlogin.sshd_permitrootlogin=no
cvmlogin.sshd_allowusers=ops
cvmlogin.login_user=root
cvmlogin.authorized_keys_modes=550 root;700 root;600 root
cvmlogin.authorized_keys_count=2
cvmlogin.account_status=LK
cvmlogin.guest_firewall=iptables
cvmlogin.guest_firewall_allows_port=yes
`,
	"windows-2022-rdp-off": "cvmlogin.rdp_denied=True\r\ncvmlogin.rdp_port=3390\r\ncvmlogin.rdp_nla=True\r\ncvmlogin.credssp_allow_encryption_oracle=\r\ncvmlogin.remote_desktop_users=\r\ncvmlogin.rdp_firewall_rules_enabled=False\r\ncvmlogin.guest_firewall=windows\r\n",
}

func TestLoginDetailsProblems(t *testing.T) {
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		capture string
		port    int
		want    []string // problem titles, worst first
		fixes   []FixAction
	}{
		{"ubuntu-24.04-ufw-blocks", 22, []string{"The guest firewall (ufw) blocks TCP 22"}, []FixAction{FixOpenGuestFirewall}},
		{"centos-7-bad-modes", 22, []string{"authorized_keys has unsafe ownership or modes", "hosts.deny may refuse SSH clients"}, []FixAction{FixFixAuthorizedKeys}},
		{"debian-12-broken-config", 22, []string{"sshd's configuration is invalid", "authorized_keys holds no key"}, nil},
		{"rocky-9-sshd-2222-root-denied", 22, []string{"sshd listens on 2222, not 22", "Key login is off (PubkeyAuthentication no)",
			"root may not log in (PermitRootLogin no)", "sshd does not let root log in", "The account root is locked"}, nil},
		{"windows-2022-rdp-off", 3389, []string{"Remote Desktop is turned off", "Remote Desktop listens on 3390, not 3389", "Only Administrators may use Remote Desktop"}, []FixAction{FixEnableRDP}},
	}
	for _, tt := range tests {
		t.Run(tt.capture, func(t *testing.T) {
			d, err := ParseLoginDetails(capturedLoginDetails[tt.capture])
			if err != nil {
				t.Fatal(err)
			}
			var titles []string
			var fixes []FixAction
			for _, p := range d.Problems(tt.port, now) {
				titles = append(titles, p.Title)
				if p.Fix != "" {
					fixes = append(fixes, p.Fix)
				}
			}
			if !slices.Equal(titles, tt.want) || !slices.Equal(fixes, tt.fixes) {
				t.Errorf("problems %q fixes %v\nwant %q fixes %v", titles, fixes, tt.want, tt.fixes)
			}
		})
	}
}

func TestLoginDetailsNothingWrong(t *testing.T) {
	d, err := ParseLoginDetails("cvmlogin.sshd_config_valid=yes\ncvmlogin.sshd_port=22\ncvmlogin.login_user=ubuntu\ncvmlogin.authorized_keys_modes=755 ubuntu;700 ubuntu;600 ubuntu\ncvmlogin.authorized_keys_count=1\ncvmlogin.account_status=P\ncvmlogin.account_expires=never\ncvmlogin.guest_firewall=none\ncvmlogin.guest_firewall_allows_port=unknown\n")
	if err != nil {
		t.Fatal(err)
	}
	if ps := d.Problems(22, time.Now()); len(ps) != 0 {
		t.Errorf("problems on a healthy guest: %+v", ps)
	}
	if _, err := ParseLoginDetails("bash: line 1: syntax error"); err == nil {
		t.Error("garbage parsed")
	}
}
