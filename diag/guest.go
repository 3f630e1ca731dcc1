package diag

import (
	"bufio"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cvmlogin/cvmlogin/internal/textclip"
)

// GuestFacts is what the in-guest script reports. The script prints one
// "cvmlogin.<key>=<value>" line per fact; anything else in the output is
// ignored, so noise from login banners or shells does not break parsing.
type GuestFacts struct {
	OS                string // "linux" or "windows"
	LoginService      string // "sshd" or "TermService"
	LoginServiceState string // "active"/"running" when up; anything else is down
	// LoginSocket is the systemd socket unit that listens for the login
	// service (socket activation, e.g. "ssh.socket" on Ubuntu 22.10 and
	// later), or "" when there is none.
	LoginSocket      string
	ListeningPorts   []int // TCP ports in LISTEN state
	DiskUsedPercent  float64
	InodeUsedPercent float64 // not reported on Windows: -1
	RDPDenied        bool    // Windows: fDenyTSConnections is 1
}

const guestFactPrefix = "cvmlogin."

// Format renders facts in the script's output format. The simulator uses it
// to answer RunCommand like a real guest would.
func (g GuestFacts) Format() string {
	ports := make([]string, len(g.ListeningPorts))
	for i, p := range g.ListeningPorts {
		ports[i] = strconv.Itoa(p)
	}
	lines := []string{
		"os=" + g.OS,
		"login_service=" + g.LoginService,
		"login_service_state=" + g.LoginServiceState,
		"login_socket=" + g.LoginSocket,
		"listening_ports=" + strings.Join(ports, ","),
		"disk_used_percent=" + strconv.FormatFloat(g.DiskUsedPercent, 'f', -1, 64),
		"inode_used_percent=" + strconv.FormatFloat(g.InodeUsedPercent, 'f', -1, 64),
		"rdp_denied=" + strconv.FormatBool(g.RDPDenied),
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(guestFactPrefix + l + "\n")
	}
	return b.String()
}

// ServiceUp reports whether the login service is running.
func (g GuestFacts) ServiceUp() bool {
	s := strings.ToLower(g.LoginServiceState)
	return s == "active" || s == "running"
}

// Listening reports whether port is in LISTEN state.
func (g GuestFacts) Listening(port int) bool { return slices.Contains(g.ListeningPorts, port) }

// ParseGuestFacts parses the script's output. It fails when the output has
// none of the facts (the script did not run as expected).
func ParseGuestFacts(out string) (GuestFacts, error) {
	g := GuestFacts{DiskUsedPercent: -1, InodeUsedPercent: -1}
	if scanFacts(out, g.set) == 0 {
		return g, fmt.Errorf("the in-guest script printed no cvmlogin.* facts (output starts %q)", textclip.Bytes(out, 80))
	}
	return g, nil
}

// scanFacts calls set with the key and value of every "cvmlogin.<key>=<value>"
// line of a guest script's output, and returns how many set took. Other
// lines (banners, shell noise) are skipped.
func scanFacts(out string, set func(key, value string) bool) int {
	taken := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		key, value, ok := strings.Cut(strings.TrimPrefix(line, guestFactPrefix), "=")
		if strings.HasPrefix(line, guestFactPrefix) && ok && set(strings.TrimSpace(key), strings.TrimSpace(value)) {
			taken++
		}
	}
	return taken
}

func (g *GuestFacts) set(key, value string) bool {
	switch key {
	case "os":
		g.OS = strings.ToLower(value)
	case "login_service":
		g.LoginService = value
	case "login_service_state":
		g.LoginServiceState = value
	case "login_socket":
		g.LoginSocket = value
	case "listening_ports":
		g.ListeningPorts = parsePortList(value)
	case "disk_used_percent":
		g.DiskUsedPercent = parsePercent(value)
	case "inode_used_percent":
		g.InodeUsedPercent = parsePercent(value)
	case "rdp_denied":
		g.RDPDenied = strings.EqualFold(value, "true") || value == "1"
	default:
		return false
	}
	return true
}

func parsePortList(s string) []int {
	var ports []int
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if p, err := parsePort(f); err == nil && !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	slices.Sort(ports)
	return ports
}

func parsePercent(s string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || !(v >= 0 && v <= 100) { // NaN compares false both ways
		return -1
	}
	return v
}

// LinuxGuestScript is the read-only shell script run through TAT on Linux. It
// changes nothing on the instance. It runs under any POSIX sh, with or without
// systemd, ss or netstat: listening ports fall back to /proc/net/tcp{,6}.
const LinuxGuestScript = `#!/bin/sh
# cvmlogin read-only login diagnosis. Changes nothing.
P=cvmlogin.
echo "${P}os=linux"
svc=sshd
systemctl list-unit-files ssh.service >/dev/null 2>&1 && ! systemctl list-unit-files sshd.service >/dev/null 2>&1 && svc=ssh
echo "${P}login_service=$svc"
state=$(systemctl is-active "$svc" 2>/dev/null | head -n1)
if [ -z "$state" ]; then
  if service "$svc" status >/dev/null 2>&1; then state=active; else state=inactive; fi
fi
echo "${P}login_service_state=$state"
sock=
for u in ssh.socket sshd.socket; do
  if systemctl is-active --quiet "$u" 2>/dev/null; then sock=$u; break; fi
done
echo "${P}login_socket=$sock"
listening() {
  if ss -ltnH >/dev/null 2>&1; then
    ss -ltnH | awk '{print $4}' | sed 's/.*://'
  elif netstat -ltn >/dev/null 2>&1; then
    netstat -ltn | awk '$1 ~ /^tcp/ {print $4}' | sed 's/.*://'
  else
    awk 'FNR > 1 && $4 == "0A" {split($2, a, ":"); print a[2]}' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
      while read -r hex; do printf '%d\n' "0x$hex"; done
  fi
}
ports=$(listening | sort -un | tr '\n' ',')
echo "${P}listening_ports=${ports%,}"
echo "${P}disk_used_percent=$(df -P / | awk 'NR==2 {gsub("%","",$5); print $5}')"
echo "${P}inode_used_percent=$(df -Pi / | awk 'NR==2 {gsub("%","",$5); print $5}')"
echo "${P}rdp_denied=false"
`

// WindowsGuestScript is the read-only PowerShell script run through TAT on
// Windows. It changes nothing on the instance.
const WindowsGuestScript = `# cvmlogin read-only login diagnosis. Changes nothing.
$P = 'cvmlogin.'
Write-Output "${P}os=windows"
Write-Output "${P}login_service=TermService"
$svc = Get-Service TermService -ErrorAction SilentlyContinue
Write-Output "${P}login_service_state=$(if ($svc) { $svc.Status.ToString().ToLower() } else { 'missing' })"
Write-Output "${P}login_socket="
$ports = (Get-NetTCPConnection -State Listen -ErrorAction SilentlyContinue | Select-Object -ExpandProperty LocalPort | Sort-Object -Unique) -join ','
Write-Output "${P}listening_ports=$ports"
$d = Get-CimInstance Win32_LogicalDisk -Filter "DeviceID='$($env:SystemDrive)'"
Write-Output "${P}disk_used_percent=$([math]::Round(100 - 100 * $d.FreeSpace / $d.Size, 1))"
Write-Output "${P}inode_used_percent=-1"
$deny = (Get-ItemProperty 'HKLM:\System\CurrentControlSet\Control\Terminal Server' -ErrorAction SilentlyContinue).fDenyTSConnections
Write-Output "${P}rdp_denied=$([bool]($deny -eq 1))"
`
