package tencentsim

import (
	"slices"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
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

// listeningPorts are the TCP ports in LISTEN state now.
func (in *instance) listeningPorts() []int {
	ports := slices.Clone(in.sc.Guest.ListeningPorts)
	if !in.sc.Guest.LoginServiceUp {
		login := in.sc.LoginPort()
		ports = slices.DeleteFunc(ports, func(p int) bool { return p == login })
	}
	slices.Sort(ports)
	return slices.Compact(ports)
}

// guestFacts is what the in-guest script would print now.
func (in *instance) guestFacts() diag.GuestFacts {
	g := in.sc.Guest
	facts := diag.GuestFacts{
		OS: in.sc.OS, LoginService: "sshd", LoginServiceState: "inactive",
		ListeningPorts: in.listeningPorts(), DiskUsedPercent: g.DiskUsedPercent, InodeUsedPercent: g.InodeUsedPercent,
	}
	if g.LoginServiceUp {
		facts.LoginServiceState = "active"
	}
	if in.sc.OS == diag.OSWindows {
		facts.LoginService, facts.LoginServiceState, facts.InodeUsedPercent = "TermService", "stopped", -1
		if g.LoginServiceUp {
			facts.LoginServiceState = "running"
		}
	}
	return facts
}

// hasPublicIP reports whether ip is one of the instance's public IPs.
func (in *instance) hasPublicIP(ip string) bool { return slices.Contains(in.sc.PublicIPs, ip) }
