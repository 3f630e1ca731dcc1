package diag

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// guestShims are stand-ins for the commands the Linux repair scripts change
// the system with. Each logs its arguments; its behaviour follows the
// SHIM_* environment variables. The scripts run for real, in sh, with only
// these on the PATH before /usr/bin:/bin, so nothing on the test host
// changes but a temporary directory.
var guestShims = map[string]string{
	"systemctl": `case "$1" in
is-active) [ "$2" = ssh.socket ] && [ "$SHIM_SSH_SOCKET" = active ] && { echo active; exit 0; }; [ "$2" = ssh.socket ] && exit 3; echo active ;;
list-unit-files) [ "$2" = sshd.service ] && [ "$SHIM_UNIT" = ssh ] && exit 1; exit 0 ;;
restart) exit "${SHIM_RESTART_RC:-0}" ;;
esac`,
	"sshd":         `[ "$SHIM_SSHD_T" = fail ] && { echo "/etc/ssh/sshd_config line 3: Bad configuration option: Prot"; exit 255; }; exit 0`,
	"service":      `exit 0`,
	"firewall-cmd": `case "$1" in --state) [ "$SHIM_FIREWALLD" = running ];; --query-port=*) [ "$SHIM_FIREWALLD_OPEN" = yes ];; *) exit 0;; esac`,
	"ufw":          `case "$1" in status) [ "$SHIM_UFW" = active ] && echo "Status: active" || echo "Status: inactive";; esac; exit 0`,
	"iptables":     `[ "$1" = -C ] && { [ "$SHIM_IPTABLES_HAS" = yes ]; exit; }; exit 0`,
	"getent":       `[ "$2" = "$SHIM_USER" ] && echo "$SHIM_USER:x:0:0::$SHIM_HOME:/bin/sh"`,
}

type guestSandbox struct {
	t   *testing.T
	dir string
	env []string
}

func newGuestSandbox(t *testing.T) *guestSandbox {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatalf("no sh to run the repair scripts: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range guestShims {
		script := "#!/bin/sh\necho \"" + name + " $*\" >> \"$SHIM_LOG\"\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &guestSandbox{t: t, dir: dir, env: []string{"PATH=" + bin + ":/usr/bin:/bin", "SHIM_LOG=" + filepath.Join(dir, "calls.log")}}
}

// run runs repair a with params and the given SHIM_ settings, and returns
// its outcome and the commands it called.
func (s *guestSandbox) run(a FixAction, p RepairParams, settings ...string) (RepairOutcome, []string) {
	s.t.Helper()
	cmd, err := RepairCommand(a, OSLinux, "ins-abc12345", p)
	if err != nil {
		s.t.Fatal(err)
	}
	_ = os.Remove(filepath.Join(s.dir, "calls.log"))
	c := exec.Command("sh", "-c", cmd.Script)
	c.Env = append(append([]string{}, s.env...), settings...)
	out, err := c.CombinedOutput()
	if err != nil {
		s.t.Fatalf("script failed: %v\n%s", err, out)
	}
	o, err := ParseRepairOutcome(string(out))
	if err != nil {
		s.t.Fatalf("%v\n%s", err, out)
	}
	log, _ := os.ReadFile(filepath.Join(s.dir, "calls.log"))
	var changes []string
	for _, l := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		if isChange(l) {
			changes = append(changes, l)
		}
	}
	return o, changes
}

// isChange reports whether a logged shim call changes the system.
func isChange(call string) bool {
	for _, prefix := range []string{"systemctl restart", "service ", "firewall-cmd --add", "firewall-cmd --permanent", "firewall-cmd --remove",
		"ufw allow", "ufw delete", "iptables -I", "iptables -D"} {
		if strings.HasPrefix(call, prefix) {
			return true
		}
	}
	return false
}

func TestLinuxRepairScripts(t *testing.T) {
	p := RepairParams{Port: 2222, FixID: "fix-1"}
	tests := []struct {
		name        string
		action      FixAction
		params      RepairParams
		settings    []string
		wantResult  string
		wantChanges []string
		wantUndo    string
	}{
		{"restart sshd", FixRestartLoginService, p, nil, RepairChanged, []string{"systemctl restart sshd.service"}, ""},
		{"restart ssh on Debian", FixRestartLoginService, p, []string{"SHIM_UNIT=ssh"}, RepairChanged, []string{"systemctl restart ssh.service"}, ""},
		{"socket-activated ssh", FixRestartLoginService, p, []string{"SHIM_UNIT=ssh", "SHIM_SSH_SOCKET=active"}, RepairChanged, []string{"systemctl restart ssh.socket"}, ""},
		{"broken sshd_config", FixRestartLoginService, p, []string{"SHIM_SSHD_T=fail"}, RepairRefused, nil, ""},
		{"restart fails", FixRestartLoginService, p, []string{"SHIM_RESTART_RC=1"}, RepairFailed, []string{"systemctl restart sshd.service"}, ""},
		{"firewalld", FixOpenGuestFirewall, p, []string{"SHIM_FIREWALLD=running"}, RepairChanged,
			[]string{"firewall-cmd --add-port=2222/tcp", "firewall-cmd --permanent --add-port=2222/tcp"}, "firewalld"},
		{"firewalld already open", FixOpenGuestFirewall, p, []string{"SHIM_FIREWALLD=running", "SHIM_FIREWALLD_OPEN=yes"}, RepairUnchanged, nil, ""},
		{"ufw", FixOpenGuestFirewall, p, []string{"SHIM_UFW=active"}, RepairChanged, []string{"ufw allow 2222/tcp comment cvmlogin:fix-1"}, "ufw"},
		{"iptables", FixOpenGuestFirewall, p, nil, RepairChanged,
			[]string{"iptables -I INPUT 1 -p tcp --dport 2222 -m comment --comment cvmlogin:fix-1 -j ACCEPT"}, "iptables"},
		{"undo iptables", FixUndoGuestFirewall, RepairParams{Port: 2222, FixID: "fix-1", Mechanism: "iptables"}, []string{"SHIM_IPTABLES_HAS=yes"}, RepairChanged,
			[]string{"iptables -D INPUT -p tcp --dport 2222 -m comment --comment cvmlogin:fix-1 -j ACCEPT"}, ""},
		{"undo iptables, rule gone", FixUndoGuestFirewall, RepairParams{Port: 2222, FixID: "fix-1", Mechanism: "iptables"}, nil, RepairUnchanged, nil, ""},
		{"undo firewalld", FixUndoGuestFirewall, RepairParams{Port: 2222, FixID: "fix-1", Mechanism: "firewalld"}, nil, RepairChanged,
			[]string{"firewall-cmd --remove-port=2222/tcp", "firewall-cmd --permanent --remove-port=2222/tcp"}, ""},
		{"undo ufw", FixUndoGuestFirewall, RepairParams{Port: 2222, FixID: "fix-1", Mechanism: "ufw"}, nil, RepairChanged, []string{"ufw delete allow 2222/tcp"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, changes := newGuestSandbox(t).run(tt.action, tt.params, tt.settings...)
			if o.Result != tt.wantResult || o.Undo != tt.wantUndo || o.Detail == "" {
				t.Errorf("outcome %+v, want result %s undo %q and a detail", o, tt.wantResult, tt.wantUndo)
			}
			if strings.Join(changes, "\n") != strings.Join(tt.wantChanges, "\n") {
				t.Errorf("changes\n%s\nwant\n%s", strings.Join(changes, "\n"), strings.Join(tt.wantChanges, "\n"))
			}
		})
	}
}

func TestFixAuthorizedKeysScript(t *testing.T) {
	me, err := user.Current()
	if err != nil || !loginUserShape.MatchString(me.Username) {
		t.Fatalf("the test needs a login-shaped user name, got %q (%v)", me.Username, err)
	}
	s := newGuestSandbox(t)
	home := filepath.Join(s.dir, "home")
	keys := filepath.Join(home, ".ssh", "authorized_keys")
	if err := os.MkdirAll(filepath.Dir(keys), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keys, []byte("ssh-ed25519 AAAA test\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{home, filepath.Dir(keys), keys} {
		if err := os.Chmod(path, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	p := RepairParams{User: me.Username}
	env := []string{"SHIM_USER=" + me.Username, "SHIM_HOME=" + home}

	o, _ := s.run(FixFixAuthorizedKeys, p, env...)
	if o.Result != RepairChanged || !strings.Contains(o.Before, "777") {
		t.Fatalf("first run: %+v, want changed with the 777 modes before", o)
	}
	for path, want := range map[string]os.FileMode{filepath.Dir(keys): 0o700, keys: 0o600, home: 0o755} {
		if fi, _ := os.Stat(path); fi.Mode().Perm() != want {
			t.Errorf("%s mode %o, want %o", path, fi.Mode().Perm(), want)
		}
	}
	if data, _ := os.ReadFile(keys); string(data) != "ssh-ed25519 AAAA test\n" {
		t.Errorf("the keys changed: %q", data)
	}
	if o, _ := s.run(FixFixAuthorizedKeys, p, env...); o.Result != RepairUnchanged {
		t.Errorf("second run: %+v, want unchanged", o)
	}
	if err := os.Remove(keys); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.run(FixFixAuthorizedKeys, p, env...); o.Result != RepairRefused || !strings.Contains(o.Detail, "key pair") {
		t.Errorf("without authorized_keys: %+v, want refused naming the key pair", o)
	}
}

func TestRepairCommandRefusesBadParams(t *testing.T) {
	bad := []struct {
		action FixAction
		os     string
		params RepairParams
	}{
		{FixFixAuthorizedKeys, OSLinux, RepairParams{User: "root; rm -rf /"}},
		{FixFixAuthorizedKeys, OSLinux, RepairParams{User: "$(reboot)"}},
		{FixOpenGuestFirewall, OSLinux, RepairParams{Port: 70000}},
		{FixOpenGuestFirewall, OSLinux, RepairParams{Port: 22, FixID: "x' ; reboot ; '"}},
		{FixUndoGuestFirewall, OSLinux, RepairParams{Port: 22, Mechanism: "nft; reboot"}},
		{FixEnableRDP, OSLinux, RepairParams{}},
		{FixFixAuthorizedKeys, OSWindows, RepairParams{User: "administrator"}},
		{FixStartInstance, OSLinux, RepairParams{}},
	}
	for _, b := range bad {
		if cmd, err := RepairCommand(b.action, b.os, "ins-abc12345", b.params); err == nil {
			t.Errorf("RepairCommand(%s, %s, %+v) accepted:\n%s", b.action, b.os, b.params, cmd.Script)
		}
	}
}

func TestWindowsRepairScripts(t *testing.T) {
	tests := []struct {
		action FixAction
		want   []string
	}{
		{FixEnableRDP, []string{"fDenyTSConnections -Value 0", "Enable-NetFirewallRule -Group $RdpGroup"}},
		{FixRestartLoginService, []string{"Restart-Service -Name TermService -Force"}},
		{FixOpenGuestFirewall, []string{"$CvmloginPort = 3390", "New-NetFirewallRule -Name $name", "-LocalPort $CvmloginPort"}},
		{FixUndoGuestFirewall, []string{"$CvmloginFixId = 'fix-9'", "Remove-NetFirewallRule -Name $name"}},
	}
	for _, tt := range tests {
		cmd, err := RepairCommand(tt.action, OSWindows, "ins-abc12345", RepairParams{Port: 3390, FixID: "fix-9", Mechanism: "windows"})
		if err != nil {
			t.Fatal(err)
		}
		if cmd.Type != "POWERSHELL" || cmd.Name != "cvmlogin-"+string(tt.action) {
			t.Errorf("%s: type %s name %s", tt.action, cmd.Type, cmd.Name)
		}
		for _, w := range tt.want {
			if !strings.Contains(cmd.Script, w) {
				t.Errorf("%s script lacks %q", tt.action, w)
			}
		}
	}
}

// Captured from the Windows scripts on Windows Server 2022 (PowerShell 5.1).
func TestParseRepairOutcome(t *testing.T) {
	tests := []struct {
		name, out string
		want      RepairOutcome
		wantErr   bool
	}{
		{"enable RDP", "cvmlogin.repair_before=fDenyTSConnections=1\r\ncvmlogin.repair_result=changed\r\ncvmlogin.repair_detail=Remote Desktop is allowed and its firewall rules are enabled\r\n",
			RepairOutcome{Result: RepairChanged, Detail: "Remote Desktop is allowed and its firewall rules are enabled", Before: "fDenyTSConnections=1"}, false},
		{"firewall rule", "cvmlogin.repair_undo=windows\r\ncvmlogin.repair_result=changed\r\ncvmlogin.repair_detail=Windows Firewall allows TCP 3390 (rule cvmlogin:fix-9)\r\n",
			RepairOutcome{Result: RepairChanged, Detail: "Windows Firewall allows TCP 3390 (rule cvmlogin:fix-9)", Undo: "windows"}, false},
		{"TermService stuck", "cvmlogin.repair_result=failed\r\ncvmlogin.repair_detail=restarting TermService: Service 'Remote Desktop Services (TermService)' cannot be stopped due to the following error: Cannot stop TermService service on computer '.'.\r\n",
			RepairOutcome{Result: RepairFailed, Detail: "restarting TermService: Service 'Remote Desktop Services (TermService)' cannot be stopped due to the following error: Cannot stop TermService service on computer '.'."}, false},
		{"killed midway", "cvmlogin.repair_before=fDenyTSConnections=1\r\n", RepairOutcome{Before: "fDenyTSConnections=1"}, true},
		{"garbage result", "cvmlogin.repair_result=ok\n", RepairOutcome{Result: "ok"}, true},
	}
	for _, tt := range tests {
		got, err := ParseRepairOutcome(tt.out)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s: got %+v, %v; want %+v, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}
