package tencentsim

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// The LatestOperationState values.
const (
	opOperating = "OPERATING"
	opSuccess   = "SUCCESS"
)

// instance is a scenario instance's current state. Its security groups live
// in Sim.groups, named by groupIDs.
type instance struct {
	sc       Scenario // current facts; SecurityGroups is nil (see groupIDs)
	groupIDs []string
	created  time.Time
	op       operation
	// guestRules are the guest firewall rules open_guest_firewall added,
	// by fix ID: whether the login port was blocked before.
	guestRules map[string]bool
}

// operation is an instance's latest state-changing operation.
type operation struct {
	name      string // e.g. RebootInstances; "" when there has been none
	requestID string
	state     string // OPERATING or SUCCESS
	done      time.Time
	target    string // InstanceState once done
	boots     bool   // success means the guest booted
}

func newInstance(sc Scenario, now time.Time) *instance {
	in := &instance{sc: sc.clone(), created: now}
	for _, g := range sc.SecurityGroups {
		in.groupIDs = append(in.groupIDs, g.ID)
	}
	in.sc.SecurityGroups = nil
	return in
}

// settle completes the latest operation if its time has come. Transitions
// are computed lazily, from timestamps, whenever state is read.
func (in *instance) settle(now time.Time) {
	if in.op.state != opOperating || now.Before(in.op.done) {
		return
	}
	in.sc.State = in.op.target
	in.op.state = opSuccess
	if in.op.boots {
		in.boot()
	}
}

// boot is what a fresh boot does to the guest: the runaway process that
// loaded CPU and memory is gone, and the hung login service is up again.
func (in *instance) boot() {
	in.sc.CPU = min(in.sc.CPU, idleCPU)
	in.sc.Memory = min(in.sc.Memory, idleMemory)
	in.sc.Guest.LoginServiceUp = true
}

func (in *instance) running() bool { return in.sc.State == stateRunning }

// isolated reports whether the public network is cut off: security
// isolation, expiry or arrears.
func (in *instance) isolated() bool {
	sc := in.sc
	return sc.RestrictState != restrictNormal || sc.IsolatedSource == "ARREAR" || sc.IsolatedSource == "EXPIRE" || sc.Address.Arrears
}

// agentOnline reports whether the TAT agent answers: only while running.
func (in *instance) agentOnline() bool {
	return in.sc.Agent.Present && in.sc.Agent.Online && in.running()
}

// listeningPorts are the TCP ports in LISTEN state now. The login port
// listens while the login service is up, or while a systemd socket holds it
// for the service; on Windows, not while Remote Desktop is denied.
func (in *instance) listeningPorts() []int {
	g := in.sc.Guest
	ports := slices.Clone(g.ListeningPorts)
	if (!g.LoginServiceUp && g.LoginSocket == "") || (in.sc.OS == osWindows && g.RDPDenied) {
		ports = slices.DeleteFunc(ports, func(p int) bool { return p == in.sc.LoginPort })
	}
	slices.Sort(ports)
	return slices.Compact(ports)
}

// guestOutput is what the in-guest script prints now: one
// "cvmlogin.<key>=<value>" line per fact, as the real scripts do.
func (in *instance) guestOutput() string {
	g, windows := in.sc.Guest, in.sc.OS == osWindows
	ports := make([]string, 0, len(g.ListeningPorts))
	for _, p := range in.listeningPorts() {
		ports = append(ports, strconv.Itoa(p))
	}
	inodes := strconv.FormatFloat(g.InodeUsedPercent, 'f', -1, 64)
	if windows {
		inodes = "-1" // the Windows script has no inodes to report
	}
	facts := [][2]string{
		{"os", in.sc.OS},
		{"login_service", g.loginService(in.sc.OS)},
		{"login_service_state", serviceState(windows, g.LoginServiceUp)},
		{"login_socket", g.LoginSocket},
		{"listening_ports", strings.Join(ports, ",")},
		{"disk_used_percent", strconv.FormatFloat(g.DiskUsedPercent, 'f', -1, 64)},
		{"inode_used_percent", inodes},
		{"rdp_denied", strconv.FormatBool(g.RDPDenied)},
	}
	var b strings.Builder
	for _, f := range facts {
		b.WriteString("cvmlogin." + f[0] + "=" + f[1] + "\n")
	}
	return b.String()
}

// serviceState is how systemctl (Linux) or Get-Service (Windows) reports
// the login service.
func serviceState(windows, up bool) string {
	switch {
	case windows && up:
		return "running"
	case windows:
		return "stopped"
	case up:
		return "active"
	}
	return "inactive"
}

// hasPublicIP reports whether ip is one of the instance's public IPs.
func (in *instance) hasPublicIP(ip string) bool {
	return slices.Contains(in.sc.PublicIPs, ip) || slices.Contains(in.sc.PublicIPv6s, ip)
}
