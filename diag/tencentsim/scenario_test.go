package tencentsim

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestBuiltinScenarios(t *testing.T) {
	scenarios := Builtin()
	if err := validateSet(scenarios); err != nil {
		t.Fatalf("built-in scenarios are invalid: %v", err)
	}
	want := map[string]struct {
		fail   []string
		likely string
	}{
		"ins-linux001": {},
		"ins-win00001": {},
		"ins-stopped1": {[]string{"instance.state"}, "instance.state"},
		"ins-isolate1": {[]string{"instance.isolation", "port.reachable"}, "instance.isolation"},
		"ins-expired1": {[]string{"instance.expired", "instance.state"}, "instance.expired"},
		"ins-arrears1": {[]string{"account.arrears", "instance.state"}, "account.arrears"},
		"ins-nopubip1": {[]string{"network.public_ip"}, "network.public_ip"},
		"ins-nobandw1": {[]string{"network.bandwidth_zero", "port.reachable"}, "network.bandwidth_zero"},
		"ins-blocked1": {[]string{"network.ip_blocked", "port.reachable"}, "network.ip_blocked"},
		"ins-sgdrop01": {[]string{"security_group.login_port", "port.reachable"}, "security_group.login_port"},
		"ins-sgnone01": {[]string{"security_group.login_port", "port.reachable"}, "security_group.login_port"},
		"ins-portdown": {[]string{"port.reachable", "guest.login_service"}, "port.reachable"},
		"ins-cpuhigh1": {[]string{"load.cpu"}, "load.cpu"},
		"ins-memhigh1": {[]string{"load.memory"}, "load.memory"},
		"ins-bwfull01": {[]string{"network.bandwidth_usage"}, "network.bandwidth_usage"},
		"ins-agentoff": {},
		"ins-diskful1": {[]string{"guest.disk"}, "guest.disk"},
		"ins-rdpdown1": {[]string{"port.reachable", "guest.login_service"}, "port.reachable"},
		"ins-sgbast01": {[]string{"port.reachable"}, "port.reachable"},
		"ins-sgdropx1": {},
		"ins-sgaddrt1": {},
		"ins-sgsvct01": {[]string{"security_group.login_port", "port.reachable"}, "security_group.login_port"},
		"ins-twogrp01": {[]string{"security_group.login_port", "port.reachable"}, "security_group.login_port"},
		"ins-ipv6onl1": {},
		"ins-port2222": {[]string{"security_group.login_port", "port.reachable"}, "security_group.login_port"},
		"ins-anycast1": {[]string{"network.ip_blocked", "port.reachable"}, "network.ip_blocked"},
		"ins-credit01": {},
		"ins-sshsock1": {},
		"ins-autorenw": {},
		"ins-guestfw1": {[]string{"port.reachable", "guest.login_config"}, "port.reachable"},
		"ins-keymode1": {[]string{"guest.login_config"}, "guest.login_config"},
		"ins-rdpoff01": {[]string{"port.reachable", "guest.login_service", "guest.login_config"}, "port.reachable"},
	}
	if len(scenarios) != len(want) {
		t.Errorf("%d built-in scenarios, want %d", len(scenarios), len(want))
	}
	for _, sc := range scenarios {
		w, ok := want[sc.ID]
		if !ok {
			t.Errorf("unexpected built-in scenario %s", sc.ID)
			continue
		}
		fail := sc.ExpectFail
		if !sameSet(fail, w.fail) || sc.ExpectLikelyCause != w.likely {
			t.Errorf("%s expects %v, likely %q; want %v, likely %q", sc.ID, fail, sc.ExpectLikelyCause, w.fail, w.likely)
		}
		if sc.Region != defaultRegion || sc.Description == "" || strings.Contains(sc.Description, "\n") {
			t.Errorf("%s: region %q, description %q; want ap-guangzhou and one line", sc.ID, sc.Region, sc.Description)
		}
		for _, ip := range sc.PublicIPs {
			if a := netip.MustParseAddr(ip); !a.IsLoopback() || a == netip.MustParseAddr("127.0.0.1") {
				t.Errorf("%s: public IP %s, want 127.0.0.x other than .1", sc.ID, ip)
			}
		}
	}
}

func sameSet(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(id string) bool { return !slices.Contains(b, id) })
}

func TestLoadScenarios(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		wantErr string // a part of the error; "" for success
		check   func(t *testing.T, scenarios []Scenario)
	}{
		{"a list with defaults", `[{"id":"ins-aaaa0001","public_ips":["127.0.1.1"]}]`, "", func(t *testing.T, s []Scenario) {
			sc := s[0]
			if sc.Name != "ins-aaaa0001" || sc.State != "RUNNING" || sc.CPU != idleCPU || !sc.Agent.Online || !sc.Guest.LoginServiceUp ||
				sc.OsName != linuxOsName || len(sc.SecurityGroups) != 1 || sc.SecurityGroups[0].ID != "sg-aaaa0001" ||
				!slices.Equal(sc.Guest.ListeningPorts, []int{22}) || sc.InvocationPolls != 1 {
				t.Errorf("defaults not filled: %+v", sc)
			}
		}},
		{"an object, Windows, explicit zeros", `{"scenarios":[{"id":"ins-bbbb0001","os":"windows","bandwidth_out_mbps":0,"cpu":0,
			"agent":{"online":false},"guest":{"login_service_up":false,"listening_ports":[]}}]}`, "", func(t *testing.T, s []Scenario) {
			sc := s[0]
			if sc.BandwidthOutMbps != 0 || sc.CPU != 0 || sc.Agent.Online || !sc.Agent.Present || sc.Guest.LoginServiceUp ||
				len(sc.Guest.ListeningPorts) != 0 || sc.SecurityGroups[0].Ingress[0].Port != "3389" || sc.OsName != windowsOsName {
				t.Errorf("explicit values or Windows defaults lost: %+v", sc)
			}
		}},
		{"non-loopback public IP", `[{"id":"ins-aaaa0001","public_ips":["203.0.113.10"]}]`, "not in 127.0.0.0/8", nil},
		{"private-range public IP", `[{"id":"ins-aaaa0001","public_ips":["10.0.0.5"]}]`, "not in 127.0.0.0/8", nil},
		{"bad ID", `[{"id":"ins-ABC"}]`, `"ins-" and 8 lowercase`, nil},
		{"AWS ID", `[{"id":"i-0123456789abcdef0"}]`, `"ins-" and 8 lowercase`, nil},
		{"duplicate ID", `[{"id":"ins-aaaa0001"},{"id":"ins-aaaa0001"}]`, "instance ID ins-aaaa0001 is already used", nil},
		{"duplicate public IP", `[{"id":"ins-aaaa0001","public_ips":["127.0.1.1"]},{"id":"ins-aaaa0002","public_ips":["127.0.1.1"]}]`,
			"public IP 127.0.1.1 is already used", nil},
		{"duplicate group", `[{"id":"ins-aaaa0001","security_groups":[{"id":"sg-shared01"}]},{"id":"ins-aaaa0002","security_groups":[{"id":"sg-shared01"}]}]`,
			"security group sg-shared01 is already used", nil},
		{"unknown field", `[{"id":"ins-aaaa0001","public_ip":"127.0.1.1"}]`, `unknown field "public_ip"`, nil},
		{"unknown check", `[{"id":"ins-aaaa0001","expect_fail":["port.open"]}]`, "not a check ID", nil},
		{"bad state", `[{"id":"ins-aaaa0001","state":"ASLEEP"}]`, "state \"ASLEEP\" is not one of", nil},
		{"bad rule", `[{"id":"ins-aaaa0001","security_groups":[{"id":"sg-aaaa0001","ingress":[{"protocol":"TCP","port":"99999","action":"ACCEPT"}]}]}]`,
			"Port \"99999\"", nil},
		{"bad percentage", `[{"id":"ins-aaaa0001","memory":120}]`, "memory 120 is not a percentage", nil},
		{"not JSON", `scenarios: []`, "decoding the scenario file", nil},
		{"templates, IPv6, login port, socket", `[{"id":"ins-aaaa0001","public_ipv6s":["2001:db8::7"],"login_port":2222,
			"templates":[{"id":"ipm-office01","members":["203.0.113.0/24"]}],"expect_status":{"guest.login_service":"ok"},
			"security_groups":[{"id":"sg-aaaa0001","ingress":[{"protocol":"TCP","port":"2222","address_template":"ipm-office01","action":"ACCEPT"}]}],
			"guest":{"login_socket":"ssh.socket"},"charge_type":"PREPAID","account":{"real_balance":-5,"credit_amount":100}}]`, "",
			func(t *testing.T, s []Scenario) {
				sc := s[0]
				if sc.LoginPort != 2222 || !slices.Equal(sc.Guest.ListeningPorts, []int{2222}) || sc.RenewFlag != manualRenew ||
					sc.Guest.loginService(sc.OS) != "ssh" || sc.Account.CreditAmount != 100 {
					t.Errorf("new fields or their defaults lost: %+v", sc)
				}
			}},
		{"public IPv6 outside the documentation prefix", `[{"id":"ins-aaaa0001","public_ipv6s":["2400:da00::1"]}]`, "not in 2001:db8::/32", nil},
		{"public IPv6 not canonical", `[{"id":"ins-aaaa0001","public_ipv6s":["2001:DB8:0::7"]}]`, "canonical form, 2001:db8::7", nil},
		{"dangling template", `[{"id":"ins-aaaa0001","security_groups":[{"id":"sg-aaaa0001","ingress":[{"protocol":"TCP","address_template":"ipm-zzzzzzzz","action":"ACCEPT"}]}]}]`,
			"ipm-zzzzzzzz is not among the templates of ap-guangzhou", nil},
		{"bad template member", `[{"id":"ins-aaaa0001","templates":[{"id":"ppm-aaaa0001","members":["tcp:99999"]}]}]`, "not a valid member", nil},
		{"bad pinned status", `[{"id":"ins-aaaa0001","expect_status":{"load.cpu":"fine"}}]`, "is not a status", nil},
		{"bad renew flag", `[{"id":"ins-aaaa0001","renew_flag":"SOMETIMES"}]`, "renew_flag", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scenarios, err := LoadScenarios(strings.NewReader(tt.file))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("LoadScenarios: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("LoadScenarios error %v, want one containing %q", err, tt.wantErr)
			case tt.check != nil:
				tt.check(t, scenarios)
			}
		})
	}
}

func TestAddScenarioConflicts(t *testing.T) {
	sim := New(Options{})
	defer sim.Close()
	sc := DefaultScenario()
	sc.ID, sc.PublicIPs = "ins-new00001", []string{"127.0.0.11"}
	if err := sim.AddScenario(sc); err == nil || !strings.Contains(err.Error(), "127.0.0.11 is already used") {
		t.Errorf("AddScenario with ins-linux001's IP: %v", err)
	}
	sc.PublicIPs = []string{"127.0.0.111"}
	if err := sim.AddScenario(sc); err != nil {
		t.Fatalf("AddScenario: %v", err)
	}
	if got, ok := sim.Scenario("ins-new00001"); !ok || got.SecurityGroups[0].ID != "sg-new00001" {
		t.Errorf("Scenario(ins-new00001) = %+v, %v", got, ok)
	}
	if n := len(sim.Scenarios()); n != len(Builtin())+1 {
		t.Errorf("%d scenarios, want %d", n, len(Builtin())+1)
	}
}
