package diag

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
)

// runLinuxScript runs the real LinuxGuestScript with sh and PATH path ("" for
// the test's own), and parses its output with the production parser.
func runLinuxScript(t *testing.T, shell, path string) GuestFacts {
	t.Helper()
	script := filepath.Join(t.TempDir(), "cvmlogin.sh")
	if err := os.WriteFile(script, []byte(LinuxGuestScript), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), shell, script)
	if path != "" {
		cmd.Env = []string{"PATH=" + path}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", shell, script, err, out)
	}
	facts, err := ParseGuestFacts(string(out))
	if err != nil {
		t.Fatalf("parsing the script's output: %v\n%s", err, out)
	}
	return facts
}

// listen opens a TCP listener on loopback for the script to find.
func listen(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// TestLinuxGuestScriptRunsForReal runs the script on this machine (it is
// read-only) under sh and bash, and once with a PATH holding only coreutils,
// awk and sed, as on a minimal image without ss, netstat or systemd: it must
// still find a port this test listens on.
func TestLinuxGuestScriptRunsForReal(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the script is for Linux")
	}
	port := listen(t)
	minimal := t.TempDir()
	for _, tool := range []string{"awk", "sed", "sort", "tr", "df", "head"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("no %s here: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(minimal, tool)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ name, shell, path string }{
		{"sh", "sh", ""},
		{"bash", "bash", ""},
		{"no ss, netstat or systemctl", "sh", minimal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath(tc.shell); err != nil {
				t.Skipf("no %s: %v", tc.shell, err)
			}
			g := runLinuxScript(t, tc.shell, tc.path)
			if g.OS != OSLinux || g.LoginService == "" || g.LoginServiceState == "" || g.RDPDenied {
				t.Errorf("facts %+v", g)
			}
			if g.DiskUsedPercent < 0 || g.InodeUsedPercent < 0 {
				t.Errorf("disk %v%%, inodes %v%%: not reported", g.DiskUsedPercent, g.InodeUsedPercent)
			}
			if !g.Listening(port) {
				t.Errorf("listening ports %v lack %d, which this test listens on", g.ListeningPorts, port)
			}
		})
	}
}

// TestCapturedGuestOutputs parses outputs the scripts print on real systems
// (testdata/guest) and judges the login service from them.
func TestCapturedGuestOutputs(t *testing.T) {
	tests := []struct {
		file   string
		os     string
		port   int
		want   GuestFacts
		status Status // of guest.login_service
	}{
		{"ubuntu-24.04-ssh-socket.txt", OSLinux, 22, GuestFacts{OS: "linux", LoginService: "ssh", LoginServiceState: "inactive", LoginSocket: "ssh.socket",
			ListeningPorts: []int{22, 53}, DiskUsedPercent: 23, InodeUsedPercent: 6}, StatusOK},
		{"debian-12.txt", OSLinux, 22, GuestFacts{OS: "linux", LoginService: "sshd", LoginServiceState: "active",
			ListeningPorts: []int{22}, DiskUsedPercent: 12, InodeUsedPercent: 3}, StatusOK},
		{"rocky-9.txt", OSLinux, 22, GuestFacts{OS: "linux", LoginService: "sshd", LoginServiceState: "active",
			ListeningPorts: []int{22, 111}, DiskUsedPercent: 31, InodeUsedPercent: 2}, StatusOK},
		{"centos-7-disk-full.txt", OSLinux, 22, GuestFacts{OS: "linux", LoginService: "sshd", LoginServiceState: "failed",
			ListeningPorts: []int{25, 111}, DiskUsedPercent: 100, InodeUsedPercent: 17}, StatusFail},
		{"minimal-no-ss.txt", OSLinux, 22, GuestFacts{OS: "linux", LoginService: "sshd", LoginServiceState: "inactive",
			ListeningPorts: []int{22, 8080}, DiskUsedPercent: 58, InodeUsedPercent: 9}, StatusOK},
		{"windows-rdp-disabled.txt", OSWindows, 3389, GuestFacts{OS: "windows", LoginService: "TermService", LoginServiceState: "running",
			ListeningPorts: []int{135, 445, 5985, 47001, 49664, 49665, 49666, 49667, 49668, 49669}, DiskUsedPercent: 41.7, InodeUsedPercent: -1, RDPDenied: true}, StatusFail},
		{"windows-termservice-stopped.txt", OSWindows, 3389, GuestFacts{OS: "windows", LoginService: "TermService", LoginServiceState: "stopped",
			ListeningPorts: []int{135, 445, 5985, 47001, 49664, 49665, 49666, 49667, 49668}, DiskUsedPercent: 63.2, InodeUsedPercent: -1}, StatusFail},
		{"windows-port-3390.txt", OSWindows, 3389, GuestFacts{OS: "windows", LoginService: "TermService", LoginServiceState: "running",
			ListeningPorts: []int{135, 445, 3390, 5985, 47001, 49664, 49665, 49666, 49667, 49668, 49670}, DiskUsedPercent: 35, InodeUsedPercent: -1}, StatusFail},
		{"windows-port-3390.txt", OSWindows, 3390, GuestFacts{OS: "windows", LoginService: "TermService", LoginServiceState: "running",
			ListeningPorts: []int{135, 445, 3390, 5985, 47001, 49664, 49665, 49666, 49667, 49668, 49670}, DiskUsedPercent: 35, InodeUsedPercent: -1}, StatusOK},
		// The guest cannot see its firewall's verdict: port.reachable does.
		{"windows-firewall-rule-off.txt", OSWindows, 3389, GuestFacts{OS: "windows", LoginService: "TermService", LoginServiceState: "running",
			ListeningPorts: []int{135, 445, 3389, 5985, 47001, 49664, 49665, 49666, 49667, 49668}, DiskUsedPercent: 52.9, InodeUsedPercent: -1}, StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			out, err := os.ReadFile(filepath.Join("testdata", "guest", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			g, err := ParseGuestFacts(string(out))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, tc.want) {
				t.Fatalf("facts\n%+v\nwant\n%+v", g, tc.want)
			}
			r := &run{d: NewDiagnoser(healthyFake(), Options{Region: "ap-guangzhou"}), os: tc.os, port: tc.port,
				guest: newLazy(func() (GuestFacts, error) { return g, nil })}
			if f := checkLoginService(context.Background(), r); f.Status != tc.status {
				t.Errorf("guest.login_service on port %d = %s (%s: %s), want %s", tc.port, f.Status, f.Title, f.Detail, tc.status)
			}
		})
	}
}
