package tencentsim

import (
	"slices"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
)

// Builtin returns the built-in scenarios: two healthy instances and one for
// each way a login breaks that cvmlogin diagnoses. All live in ap-guangzhou
// with public IPs in 127.0.0.0/8.
func Builtin() []Scenario {
	return []Scenario{
		builtin("ins-linux001", "web-1", "127.0.0.11", "Healthy Linux instance.", nil),
		builtin("ins-win00001", "win-1", "127.0.0.12", "Healthy Windows instance.", nil, onWindows),
		builtin("ins-stopped1", "stopped-1", "127.0.0.13", "The instance is stopped.",
			expect(diag.CheckInstanceState), func(sc *Scenario) { sc.State = "STOPPED" }),
		builtin("ins-isolate1", "isolated-1", "127.0.0.14", "Security isolation: the public network is cut off after a violation.",
			expect(diag.CheckInstanceIsolation, diag.CheckPortReachable), func(sc *Scenario) { sc.RestrictState = "PROTECTIVELY_ISOLATED" }),
		builtin("ins-expired1", "expired-1", "127.0.0.15", "The prepaid instance expired and was shut down.",
			expect(diag.CheckInstanceExpired, diag.CheckInstanceState), func(sc *Scenario) {
				sc.RestrictState, sc.IsolatedSource, sc.State, sc.ChargeType = "EXPIRED", "EXPIRE", "SHUTDOWN", "PREPAID"
				sc.ExpiredTime = ptr(time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC))
			}),
		builtin("ins-arrears1", "arrears-1", "127.0.0.16", "The account is in arrears: the instance was isolated and shut down.",
			expect(diag.CheckAccountArrears, diag.CheckInstanceState), func(sc *Scenario) {
				sc.IsolatedSource, sc.State = "ARREAR", "SHUTDOWN"
			}),
		builtin("ins-nopubip1", "private-1", "", "No public IP: reachable only over the private network.",
			expect(diag.CheckPublicIP), func(sc *Scenario) { sc.PublicIPs = nil }),
		builtin("ins-nobandw1", "nobandwidth-1", "127.0.0.18", "Public IP with 0 Mbps outbound bandwidth.",
			expect(diag.CheckBandwidthZero, diag.CheckPortReachable), func(sc *Scenario) {
				sc.BandwidthOutMbps, sc.BandwidthOutUsedMbps = 0, 0
			}),
		builtin("ins-blocked1", "blocked-1", "127.0.0.19", "The public IP is in a DDoS black hole.",
			expect(diag.CheckIPBlocked, diag.CheckPortReachable), func(sc *Scenario) {
				sc.Address.Blocked, sc.DDoSStatus = true, ddosBlocked
			}),
		builtin("ins-sgdrop01", "sgdrop-1", "127.0.0.20", "A DROP ALL rule at the top of the security group hides the SSH rule.",
			expect(diag.CheckSGLoginPort, diag.CheckPortReachable), func(sc *Scenario) {
				sc.SecurityGroups = []SecurityGroup{{ID: "sg-sgdrop01", Ingress: []Rule{
					{Protocol: protocolAll, Action: actionDrop, Description: "lock down"},
					{Protocol: protocolTCP, Port: "22", Action: actionAccept, Description: "ssh"},
					{Protocol: protocolICMP, Action: actionAccept, Description: "ping"},
				}}}
			}),
		builtin("ins-sgnone01", "sgnone-1", "127.0.0.21", "Two security groups, neither allows TCP 22.",
			expect(diag.CheckSGLoginPort, diag.CheckPortReachable), func(sc *Scenario) {
				sc.SecurityGroups = []SecurityGroup{
					{ID: "sg-sgnone01", Ingress: []Rule{
						{Protocol: protocolTCP, Port: "80,443", Action: actionAccept, Description: "web"},
						{Protocol: protocolICMP, Action: actionAccept, Description: "ping"},
					}},
					{ID: "sg-sgnone02", Ingress: []Rule{
						{Protocol: protocolTCP, Port: "3306", CidrBlock: "10.0.0.0/8", Action: actionAccept, Description: "mysql from the VPC"},
					}},
				}
			}),
		builtin("ins-portdown", "portdown-1", "127.0.0.22", "The security group is fine but sshd is stopped: nothing listens on 22.",
			expect(diag.CheckPortReachable, diag.CheckGuestLoginService), func(sc *Scenario) { sc.Guest.LoginServiceUp = false }),
		builtin("ins-cpuhigh1", "cpuhigh-1", "127.0.0.23", "CPU saturated at about 98%.",
			expect(diag.CheckLoadCPU), func(sc *Scenario) { sc.CPU = 98 }),
		builtin("ins-memhigh1", "memhigh-1", "127.0.0.24", "Memory saturated at about 97%.",
			expect(diag.CheckLoadMemory), func(sc *Scenario) { sc.Memory = 97 }),
		builtin("ins-bwfull01", "bwfull-1", "127.0.0.25", "Outbound bandwidth saturated: 0.99 of 1 Mbps.",
			expect(diag.CheckBandwidthUsage), func(sc *Scenario) { sc.BandwidthOutMbps, sc.BandwidthOutUsedMbps = 1, 0.99 }),
		builtin("ins-agentoff", "agentoff-1", "127.0.0.26", "The TAT agent is offline: in-guest checks cannot run.",
			nil, func(sc *Scenario) { sc.Agent.Online = false }),
		builtin("ins-diskful1", "diskfull-1", "127.0.0.27", "The root filesystem is 99% full.",
			expect(diag.CheckGuestDisk), func(sc *Scenario) { sc.Guest.DiskUsedPercent = 99 }),
		builtin("ins-rdpdown1", "rdpdown-1", "127.0.0.28", "Windows with TermService stopped: nothing listens on 3389.",
			expect(diag.CheckPortReachable, diag.CheckGuestLoginService), onWindows, func(sc *Scenario) { sc.Guest.LoginServiceUp = false }),
	}
}

// builtin makes a healthy Linux scenario, applies changes, and fills the
// defaults. The likely cause is the first expected failure in packet-path
// order, as diag reports it.
func builtin(id, name, ip, description string, fail []diag.CheckID, changes ...func(*Scenario)) Scenario {
	sc := DefaultScenario()
	sc.ID, sc.Name, sc.Description = id, name, description
	if ip != "" {
		sc.PublicIPs = []string{ip}
	}
	for _, change := range changes {
		change(&sc)
	}
	sc.ExpectFail = []string{}
	for _, id := range diag.CheckIDs {
		if slices.Contains(fail, id) {
			sc.ExpectFail = append(sc.ExpectFail, string(id))
		}
	}
	if len(sc.ExpectFail) > 0 {
		sc.ExpectLikelyCause = sc.ExpectFail[0]
	}
	return sc.withDefaults()
}

func expect(ids ...diag.CheckID) []diag.CheckID { return ids }

func onWindows(sc *Scenario) {
	sc.OS, sc.OsName = diag.OSWindows, windowsOsName
}
