package tencentsim

import (
	"slices"
	"time"
)

// The check IDs the built-in scenarios expect to fail (design.md B3).
const (
	checkArrears       = "account.arrears"
	checkIsolation     = "instance.isolation"
	checkExpired       = "instance.expired"
	checkState         = "instance.state"
	checkPublicIP      = "network.public_ip"
	checkBandwidthZero = "network.bandwidth_zero"
	checkBandwidthUse  = "network.bandwidth_usage"
	checkIPBlocked     = "network.ip_blocked"
	checkSGLoginPort   = "security_group.login_port"
	checkPortReachable = "port.reachable"
	checkCPU           = "load.cpu"
	checkMemory        = "load.memory"
	checkLoginService  = "guest.login_service"
	checkLoginConfig   = "guest.login_config"
	checkDisk          = "guest.disk"
)

// Builtin returns the built-in scenarios: two healthy instances and one for
// each way a login breaks that cvmlogin diagnoses. All live in ap-guangzhou
// with public IPs in 127.0.0.0/8.
func Builtin() []Scenario {
	return append(append([]Scenario{
		builtin("ins-linux001", "web-1", "127.0.0.11", "Healthy Linux instance.", nil),
		builtin("ins-win00001", "win-1", "127.0.0.12", "Healthy Windows instance.", nil, onWindows),
		builtin("ins-stopped1", "stopped-1", "127.0.0.13", "The instance is stopped.",
			expect(checkState), func(sc *Scenario) { sc.State = "STOPPED" }),
		builtin("ins-isolate1", "isolated-1", "127.0.0.14", "Security isolation: the public network is cut off after a violation.",
			expect(checkIsolation, checkPortReachable), func(sc *Scenario) { sc.RestrictState = "PROTECTIVELY_ISOLATED" }),
		builtin("ins-expired1", "expired-1", "127.0.0.15", "The prepaid instance expired and was shut down.",
			expect(checkExpired, checkState), func(sc *Scenario) {
				sc.RestrictState, sc.IsolatedSource, sc.State, sc.ChargeType = "EXPIRED", "EXPIRE", "SHUTDOWN", "PREPAID"
				sc.ExpiredTime = ptr(time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC))
			}),
		builtin("ins-arrears1", "arrears-1", "127.0.0.16", "The account is in arrears: the instance was isolated and shut down.",
			expect(checkArrears, checkState), func(sc *Scenario) {
				sc.IsolatedSource, sc.State = "ARREAR", "SHUTDOWN"
			}),
		builtin("ins-nopubip1", "private-1", "", "No public IP: reachable only over the private network.",
			expect(checkPublicIP), func(sc *Scenario) { sc.PublicIPs = nil }),
		builtin("ins-nobandw1", "nobandwidth-1", "127.0.0.18", "Public IP with 0 Mbps outbound bandwidth.",
			expect(checkBandwidthZero, checkPortReachable), func(sc *Scenario) {
				sc.BandwidthOutMbps, sc.BandwidthOutUsedMbps = 0, 0
			}),
		builtin("ins-blocked1", "blocked-1", "127.0.0.19", "The public IP is in a DDoS black hole.",
			expect(checkIPBlocked, checkPortReachable), func(sc *Scenario) {
				sc.Address.Blocked, sc.DDoSStatus = true, ddosBlocked
			}),
		builtin("ins-sgdrop01", "sgdrop-1", "127.0.0.20", "A DROP ALL rule at the top of the security group hides the SSH rule.",
			expect(checkSGLoginPort, checkPortReachable), func(sc *Scenario) {
				sc.SecurityGroups = []SecurityGroup{{ID: "sg-sgdrop01", Ingress: []Rule{
					{Protocol: protocolAll, Action: actionDrop, Description: "lock down"},
					{Protocol: protocolTCP, Port: "22", Action: actionAccept, Description: "ssh"},
					{Protocol: protocolICMP, Action: actionAccept, Description: "ping"},
				}}}
			}),
		builtin("ins-sgnone01", "sgnone-1", "127.0.0.21", "Two security groups, neither allows TCP 22.",
			expect(checkSGLoginPort, checkPortReachable), func(sc *Scenario) {
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
			expect(checkPortReachable, checkLoginService), func(sc *Scenario) { sc.Guest.LoginServiceUp = false }),
		builtin("ins-cpuhigh1", "cpuhigh-1", "127.0.0.23", "CPU saturated at about 98%.",
			expect(checkCPU), func(sc *Scenario) { sc.CPU = 98 }),
		builtin("ins-memhigh1", "memhigh-1", "127.0.0.24", "Memory saturated at about 97%.",
			expect(checkMemory), func(sc *Scenario) { sc.Memory = 97 }),
		builtin("ins-bwfull01", "bwfull-1", "127.0.0.25", "Outbound bandwidth saturated: 0.99 of 1 Mbps.",
			expect(checkBandwidthUse), func(sc *Scenario) { sc.BandwidthOutMbps, sc.BandwidthOutUsedMbps = 1, 0.99 }),
		builtin("ins-agentoff", "agentoff-1", "127.0.0.26", "The TAT agent is offline: in-guest checks cannot run.",
			nil, func(sc *Scenario) { sc.Agent.Online = false }),
		builtin("ins-diskful1", "diskfull-1", "127.0.0.27", "The root filesystem is 99% full.",
			expect(checkDisk), func(sc *Scenario) { sc.Guest.DiskUsedPercent = 99 }),
		builtin("ins-rdpdown1", "rdpdown-1", "127.0.0.28", "Windows with TermService stopped: nothing listens on 3389.",
			expect(checkPortReachable, checkLoginService), onWindows, func(sc *Scenario) { sc.Guest.LoginServiceUp = false }),
	}, securityGroupScenarios()...), slices.Concat(accountAndGuestScenarios(), guestRepairScenarios())...)
}

// guestRepairScenarios are logins broken inside the guest, past the network,
// that a guest repair fixes.
func guestRepairScenarios() []Scenario {
	return []Scenario{
		builtin("ins-guestfw1", "guest-firewall-blocks", "127.0.0.61", "ufw inside the guest drops TCP 22; the security group allows it.",
			expect(checkPortReachable, checkLoginConfig), func(sc *Scenario) {
				sc.Guest.GuestFirewall, sc.Guest.FirewallBlocksLoginPort = firewallUFW, true
			}),
		builtin("ins-keymode1", "unsafe-key-modes", "127.0.0.62", "~/.ssh and authorized_keys are writable by others: sshd's StrictModes refuses every key.",
			expect(checkLoginConfig), func(sc *Scenario) { sc.Guest.KeyFilesUnsafe = true }),
		builtin("ins-rdpoff01", "rdp-disabled", "127.0.0.63", "Windows with fDenyTSConnections=1: Remote Desktop is off and nothing listens on 3389.",
			expect(checkPortReachable, checkLoginService, checkLoginConfig), onWindows, func(sc *Scenario) { sc.Guest.RDPDenied = true }),
	}
}

// securityGroupScenarios are the ways security-group semantics decide a
// login: group sources, templates, binding order, IPv6 and custom ports.
func securityGroupScenarios() []Scenario {
	return []Scenario{
		builtin("ins-sgbast01", "sg-bastion-source", "127.0.0.29", "SSH is accepted only from a bastion security group, then DROP ALL: closed to the internet.",
			expect(checkPortReachable), pin(checkSGLoginPort, "warn"), withIngress("sg-sgbast01",
				Rule{Protocol: protocolTCP, Port: "22", SourceGroupID: "sg-bastion1", Action: actionAccept, Description: "ssh from the bastion"},
				Rule{Protocol: protocolAll, Action: actionDrop, Description: "deny the rest"})),
		builtin("ins-sgdropx1", "sg-drop-group-above-accept", "127.0.0.30", "A DROP from another security group sits above ACCEPT ALL: it never matches internet traffic.",
			nil, pin(checkSGLoginPort, "ok"), withIngress("sg-sgdropx1",
				Rule{Protocol: protocolAll, SourceGroupID: "sg-others01", Action: actionDrop, Description: "not from the other tier"},
				Rule{Protocol: protocolAll, Action: actionAccept, Description: "everything else"})),
		builtin("ins-sgaddrt1", "sg-address-template", "127.0.0.31", "SSH is accepted from an address template that holds 0.0.0.0/0.",
			nil, pin(checkSGLoginPort, "ok"), withTemplates(Template{ID: "ipm-anywher1", Name: "anywhere", Members: []string{anywhereIPv4}}),
			withIngress("sg-sgaddrt1",
				Rule{Protocol: protocolTCP, Port: "22", AddressTemplate: "ipm-anywher1", Action: actionAccept, Description: "ssh"},
				Rule{Protocol: protocolICMP, Action: actionAccept, Description: "ping"},
				Rule{Protocol: protocolAll, Action: actionDrop, Description: "deny the rest"})),
		builtin("ins-sgsvct01", "sg-service-template-drop", "127.0.0.32", "A DROP of a service template holding tcp:22 sits above ACCEPT ALL.",
			expect(checkSGLoginPort, checkPortReachable), withTemplates(Template{ID: "ppm-sshonly1", Name: "ssh", Members: []string{"tcp:22"}}),
			withIngress("sg-sgsvct01",
				Rule{ServiceTemplate: "ppm-sshonly1", Action: actionDrop, Description: "no ssh"},
				Rule{Protocol: protocolAll, Action: actionAccept, Description: "everything else"})),
		builtin("ins-twogrp01", "two-groups-order", "127.0.0.33", "Two security groups: the first drops TCP 22, the second accepts everything; binding order decides.",
			expect(checkSGLoginPort, checkPortReachable), func(sc *Scenario) {
				sc.SecurityGroups = []SecurityGroup{
					{ID: "sg-twogrp01", Ingress: []Rule{{Protocol: protocolTCP, Port: "22", Action: actionDrop, Description: "no ssh"}}},
					{ID: "sg-twogrp02", Ingress: []Rule{{Protocol: protocolAll, Action: actionAccept, Description: "everything"}}},
				}
			}),
		builtin("ins-ipv6onl1", "ipv6-only-public", "", "Public IPv6 only (reachable from IPv6 networks only: a warning); the group accepts TCP 22 and ICMPv6 from ::/0.",
			nil, pin(checkSGLoginPort, "ok"), pin(checkPublicIP, "warn"), func(sc *Scenario) { sc.PublicIPv6s = []string{"2001:db8::1:41"} },
			withIngress("sg-ipv6onl1",
				Rule{Protocol: protocolTCP, Port: "22", Ipv6CidrBlock: anywhereIPv6, Action: actionAccept, Description: "ssh"},
				Rule{Protocol: "ICMPv6", Ipv6CidrBlock: anywhereIPv6, Action: actionAccept, Description: "ping"},
				Rule{Protocol: protocolAll, Ipv6CidrBlock: anywhereIPv6, Action: actionDrop, Description: "deny the rest"})),
		builtin("ins-port2222", "custom-login-port-2222", "127.0.0.34", "sshd listens on 2222; the group opens 20, 21, 22, 80, 443 and 3389 only.",
			expect(checkSGLoginPort, checkPortReachable), func(sc *Scenario) { sc.LoginPort = 2222 },
			withIngress("sg-port2222",
				Rule{Protocol: protocolTCP, Port: "20,21,22,80,443,3389", Action: actionAccept, Description: "major ports"},
				Rule{Protocol: protocolICMP, Action: actionAccept, Description: "ping"},
				Rule{Protocol: protocolAll, Action: actionDrop, Description: "deny the rest"})),
	}
}

// accountAndGuestScenarios are healthy logins that a careless reading of the
// account, the address or the guest would call broken, and one that is not.
func accountAndGuestScenarios() []Scenario {
	return []Scenario{
		builtin("ins-anycast1", "anycast-eip-blocked", "127.0.0.35", "The public IP is an AnycastEIP that is blocked (IsBlocked).",
			expect(checkIPBlocked, checkPortReachable), func(sc *Scenario) { sc.Address.Type, sc.Address.Blocked = "AnycastEIP", true }),
		builtin("ins-credit01", "balance-negative-within-credit", "127.0.0.36", "The balance is negative but within the account's credit; nothing is isolated.",
			nil, func(sc *Scenario) { sc.Account = &AccountState{RealBalance: -125_000, CreditAmount: 1_000_000} }),
		builtin("ins-sshsock1", "ubuntu-ssh-socket", "127.0.0.37", "Ubuntu 24.04: ssh.service is inactive, ssh.socket listens on 22 and starts it on demand.",
			nil, pin(checkLoginService, "ok"), func(sc *Scenario) {
				sc.OsName = "Ubuntu Server 24.04 LTS 64bit"
				sc.Guest.LoginServiceUp, sc.Guest.LoginSocket = false, "ssh.socket"
			}),
		builtin("ins-autorenw", "expiring-auto-renew", "127.0.0.38", "Prepaid, expires in 24 hours, set to renew automatically.",
			nil, pin(checkExpired, "ok"), func(sc *Scenario) {
				sc.ChargeType, sc.RenewFlag = chargePrepaid, "NOTIFY_AND_AUTO_RENEW"
				sc.ExpiredTime = ptr(time.Now().Add(24 * time.Hour).Truncate(time.Second))
			}),
	}
}

// builtin makes a healthy Linux scenario, applies changes, and fills the
// defaults. The likely cause is the first expected failure in packet-path
// order, as diag reports it.
func builtin(id, name, ip, description string, fail []string, changes ...func(*Scenario)) Scenario {
	sc := DefaultScenario()
	sc.ID, sc.Name, sc.Description = id, name, description
	if ip != "" {
		sc.PublicIPs = []string{ip}
	}
	for _, change := range changes {
		change(&sc)
	}
	sc.ExpectFail = []string{}
	for _, id := range CheckIDs {
		if slices.Contains(fail, id) {
			sc.ExpectFail = append(sc.ExpectFail, id)
		}
	}
	if len(sc.ExpectFail) > 0 {
		sc.ExpectLikelyCause = sc.ExpectFail[0]
	}
	return sc.withDefaults()
}

func expect(ids ...string) []string { return ids }

// pin makes a scenario expect one check's status.
func pin(check, status string) func(*Scenario) {
	return func(sc *Scenario) {
		if sc.ExpectStatus == nil {
			sc.ExpectStatus = map[string]string{}
		}
		sc.ExpectStatus[check] = status
	}
}

// withIngress binds one security group with these ingress rules.
func withIngress(id string, rules ...Rule) func(*Scenario) {
	return func(sc *Scenario) { sc.SecurityGroups = []SecurityGroup{{ID: id, Ingress: rules}} }
}

func withTemplates(templates ...Template) func(*Scenario) {
	return func(sc *Scenario) { sc.Templates = templates }
}

func onWindows(sc *Scenario) {
	sc.OS, sc.OsName = osWindows, windowsOsName
}
