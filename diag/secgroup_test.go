package diag

import "testing"

func rule(i int, proto, port, cidr, action string) SecurityGroupPolicy {
	return SecurityGroupPolicy{Index: i, Protocol: proto, Port: port, CidrBlock: cidr, Action: action}
}

func group(id string, rules ...SecurityGroupPolicy) SecurityGroupPolicies {
	return SecurityGroupPolicies{GroupID: id, Ingress: rules}
}

func TestEvaluateIngress(t *testing.T) {
	ssh := Traffic{Protocol: "TCP", Port: 22}
	tests := []struct {
		name     string
		groups   []SecurityGroupPolicies
		traffic  Traffic
		want     Verdict
		decider  string // the deciding rule's group and index, "" for none
		decIndex int
	}{
		{"accept exact port", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "22", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictAccept, "sg-a", 0},
		{"drop above accept wins", []SecurityGroupPolicies{group("sg-a", rule(0, "ALL", "ALL", "0.0.0.0/0", "DROP"), rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictDrop, "sg-a", 0},
		{"accept above drop wins", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "22", "0.0.0.0/0", "ACCEPT"), rule(1, "ALL", "ALL", "0.0.0.0/0", "DROP"))}, ssh, VerdictAccept, "sg-a", 0},
		{"range contains port", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "20-25", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictAccept, "sg-a", 0},
		{"range misses port", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "23-25", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictNoMatch, "", 0},
		{"comma list contains port", []SecurityGroupPolicies{group("sg-a", rule(0, "tcp", "80,22,443", "0.0.0.0/0", "accept"))}, ssh, VerdictAccept, "sg-a", 0},
		{"comma list with range", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "80, 3380-3390", "0.0.0.0/0", "ACCEPT"))}, Traffic{Protocol: "TCP", Port: 3389}, VerdictAccept, "sg-a", 0},
		{"protocol ALL port ALL", []SecurityGroupPolicies{group("sg-a", rule(0, "ALL", "ALL", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictAccept, "sg-a", 0},
		{"UDP rule does not match TCP", []SecurityGroupPolicies{group("sg-a", rule(0, "UDP", "22", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictNoMatch, "", 0},
		{"empty group rejects", []SecurityGroupPolicies{group("sg-a")}, ssh, VerdictNoMatch, "", 0},
		{"no groups rejects", nil, ssh, VerdictNoMatch, "", 0},
		{"second group decides", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "80", "0.0.0.0/0", "ACCEPT")), group("sg-b", rule(0, "TCP", "22", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictAccept, "sg-b", 0},
		{"first group's drop beats second group's accept", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "22", "0.0.0.0/0", "DROP")), group("sg-b", rule(0, "TCP", "22", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictDrop, "sg-a", 0},
		{"narrow accept then drop all is partial", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "22", "203.0.113.0/24", "ACCEPT"), rule(1, "ALL", "ALL", "0.0.0.0/0", "DROP"))}, ssh, VerdictPartial, "sg-a", 1},
		{"narrow accept, no decision", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "22", "203.0.113.7", "ACCEPT"))}, ssh, VerdictPartial, "", 0},
		{"narrow drop does not block everyone", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "22", "198.51.100.0/24", "DROP"), rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictAccept, "sg-a", 1},
		{"ipv6-only rule ignored", []SecurityGroupPolicies{group("sg-a", SecurityGroupPolicy{Index: 0, Protocol: "TCP", Port: "22", Ipv6CidrBlock: "::/0", Action: "ACCEPT"})}, ssh, VerdictNoMatch, "", 0},
		// A source group is the private IPs of its instances: never the internet.
		{"bastion group accept then drop all is partial", []SecurityGroupPolicies{group("sg-a", fromGroup(0, "22", "sg-bastion", "ACCEPT"), rule(1, "ALL", "ALL", "0.0.0.0/0", "DROP"))}, ssh, VerdictPartial, "sg-a", 1},
		{"bastion group accept alone is partial", []SecurityGroupPolicies{group("sg-a", fromGroup(0, "22", "sg-bastion", "ACCEPT"))}, ssh, VerdictPartial, "", 0},
		{"drop from a group above accept all is accept", []SecurityGroupPolicies{group("sg-a", fromGroup(0, "ALL", "sg-x", "DROP"), rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictAccept, "sg-a", 1},
		{"drop from a group, nothing else, rejects", []SecurityGroupPolicies{group("sg-a", fromGroup(0, "22", "sg-x", "DROP"))}, ssh, VerdictNoMatch, "", 0},
		// Binding order decides between groups (the same two groups, both ways).
		{"binding order: accepting group first", []SecurityGroupPolicies{group("sg-open", rule(0, "TCP", "22", "0.0.0.0/0", "ACCEPT")), group("sg-lock", rule(0, "ALL", "ALL", "0.0.0.0/0", "DROP"))}, ssh, VerdictAccept, "sg-open", 0},
		{"binding order: dropping group first", []SecurityGroupPolicies{group("sg-lock", rule(0, "ALL", "ALL", "0.0.0.0/0", "DROP")), group("sg-open", rule(0, "TCP", "22", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictDrop, "sg-lock", 0},
		{"address template accept, nothing else", []SecurityGroupPolicies{group("sg-a", SecurityGroupPolicy{Index: 0, Protocol: "TCP", Port: "22", AddressTemplate: "ipm-1", Action: "ACCEPT"})}, ssh, VerdictIndeterminate, "", 0},
		{"service template drop before accept is indeterminate", []SecurityGroupPolicies{group("sg-a", SecurityGroupPolicy{Index: 0, ServiceTemplate: "ppm-1", CidrBlock: "0.0.0.0/0", Action: "DROP"}, rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictIndeterminate, "sg-a", 1},
		{"template with same action does not matter", []SecurityGroupPolicies{group("sg-a", SecurityGroupPolicy{Index: 0, Protocol: "TCP", Port: "22", AddressTemplate: "ipm-1", Action: "ACCEPT"}, rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictAccept, "sg-a", 1},
		{"icmp accepted", []SecurityGroupPolicies{group("sg-a", rule(0, "ICMP", "", "0.0.0.0/0", "ACCEPT"))}, Traffic{Protocol: "ICMP"}, VerdictAccept, "sg-a", 0},
		{"icmp not matched by tcp all", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "ALL", "0.0.0.0/0", "ACCEPT"))}, Traffic{Protocol: "ICMP"}, VerdictNoMatch, "", 0},
		{"icmp matched by protocol ALL drop", []SecurityGroupPolicies{group("sg-a", rule(0, "ALL", "ALL", "0.0.0.0/0", "DROP"), rule(1, "ICMP", "", "0.0.0.0/0", "ACCEPT"))}, Traffic{Protocol: "ICMP"}, VerdictDrop, "sg-a", 0},
		// A Port we cannot read may cover the port: cannot tell, not "blocked".
		{"malformed port accept is indeterminate", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "2x", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictIndeterminate, "", 0},
		{"malformed port drop before accept is indeterminate", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "22-", "0.0.0.0/0", "DROP"), rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictIndeterminate, "sg-a", 1},
		{"malformed port accept before accept is accept", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "x", "0.0.0.0/0", "ACCEPT"), rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictAccept, "sg-a", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := EvaluateIngress(tc.groups, tc.traffic)
			if d.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s (decision %+v)", d.Verdict, tc.want, d)
			}
			if tc.decider == "" {
				if d.Decider != nil {
					t.Fatalf("decider %v, want none", d.Decider)
				}
				return
			}
			if d.Decider == nil || d.Decider.GroupID != tc.decider || d.Decider.Rule.Index != tc.decIndex {
				t.Fatalf("decider %v, want %s #%d", d.Decider, tc.decider, tc.decIndex)
			}
		})
	}
}

func fromGroup(i int, port, sg, action string) SecurityGroupPolicy {
	return SecurityGroupPolicy{Index: i, Protocol: "TCP", Port: port, SourceGroupID: sg, Action: action}
}

func TestEvaluateIngressWithTemplates(t *testing.T) {
	ssh := Traffic{Protocol: "TCP", Port: 22}
	ssh6 := Traffic{Protocol: "TCP", Port: 22, IPv6: true}
	tpl := Templates{
		Addresses: map[string][]string{
			"ipm-any":    {"0.0.0.0/0"},
			"ipm-office": {"203.0.113.0/24", "198.51.100.7"},
			"ipm-range":  {"0.0.0.0-255.255.255.255"},
			"ipm-v6any":  {"::/0"},
			"ipm-bad":    {"not an address"},
		},
		Services: map[string][]string{
			"ppm-ssh":   {"tcp: 22"},
			"ppm-web":   {"tcp:80,443", "udp:53"},
			"ppm-all":   {"ALL"},
			"ppm-range": {"TCP:20-25"},
		},
	}
	addr := func(i int, id, action string) SecurityGroupPolicy {
		return SecurityGroupPolicy{Index: i, Protocol: "TCP", Port: "22", AddressTemplate: id, Action: action}
	}
	svc := func(i int, id, action string) SecurityGroupPolicy {
		return SecurityGroupPolicy{Index: i, ServiceTemplate: id, CidrBlock: "0.0.0.0/0", Action: action}
	}
	v6 := func(i int, cidr, action string) SecurityGroupPolicy {
		return SecurityGroupPolicy{Index: i, Protocol: "TCP", Port: "22", Ipv6CidrBlock: cidr, Action: action}
	}
	dropAll := rule(9, "ALL", "ALL", "0.0.0.0/0", "DROP")
	tests := []struct {
		name    string
		rules   []SecurityGroupPolicy
		traffic Traffic
		want    Verdict
	}{
		{"address template of everywhere accepts", []SecurityGroupPolicy{addr(0, "ipm-any", "ACCEPT")}, ssh, VerdictAccept},
		{"address range of the whole space accepts", []SecurityGroupPolicy{addr(0, "ipm-range", "ACCEPT")}, ssh, VerdictAccept},
		{"office template then drop is partial", []SecurityGroupPolicy{addr(0, "ipm-office", "ACCEPT"), dropAll}, ssh, VerdictPartial},
		{"unknown template is indeterminate", []SecurityGroupPolicy{addr(0, "ipm-gone", "ACCEPT"), dropAll}, ssh, VerdictIndeterminate},
		{"unparseable template entry is indeterminate", []SecurityGroupPolicy{addr(0, "ipm-bad", "ACCEPT"), dropAll}, ssh, VerdictIndeterminate},
		{"ipv4 template does not apply to ipv6", []SecurityGroupPolicy{addr(0, "ipm-any", "ACCEPT")}, ssh6, VerdictNoMatch},
		{"ipv6 template applies to ipv6", []SecurityGroupPolicy{addr(0, "ipm-v6any", "ACCEPT")}, ssh6, VerdictAccept},
		{"ssh service template accepts", []SecurityGroupPolicy{svc(0, "ppm-ssh", "ACCEPT")}, ssh, VerdictAccept},
		{"port range service template drops", []SecurityGroupPolicy{svc(0, "ppm-range", "DROP"), rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT")}, ssh, VerdictDrop},
		{"web service template drop does not touch ssh", []SecurityGroupPolicy{svc(0, "ppm-web", "DROP"), rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT")}, ssh, VerdictAccept},
		{"all service template matches icmp", []SecurityGroupPolicy{svc(0, "ppm-all", "ACCEPT")}, Traffic{Protocol: "ICMP"}, VerdictAccept},
		{"unresolved service template is indeterminate", []SecurityGroupPolicy{svc(0, "ppmg-gone", "DROP"), rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT")}, ssh, VerdictIndeterminate},
		{"ipv6 ::/0 accepts ipv6", []SecurityGroupPolicy{v6(0, "::/0", "ACCEPT")}, ssh6, VerdictAccept},
		{"ipv6 narrow accept then drop is partial", []SecurityGroupPolicy{v6(0, "2001:db8::/32", "ACCEPT"), v6(1, "::/0", "DROP")}, ssh6, VerdictPartial},
		{"ipv4 accept all does not let ipv6 in", []SecurityGroupPolicy{rule(0, "TCP", "22", "0.0.0.0/0", "ACCEPT")}, ssh6, VerdictNoMatch},
		{"ipv6 drop all does not block ipv4", []SecurityGroupPolicy{v6(0, "::/0", "DROP"), rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT")}, ssh, VerdictAccept},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := EvaluateIngressWith([]SecurityGroupPolicies{group("sg-a", tc.rules...)}, tc.traffic, tpl)
			if d.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s (decision %+v)", d.Verdict, tc.want, d)
			}
		})
	}
}

func TestRuleRefString(t *testing.T) {
	got := RuleRef{GroupID: "sg-12345678", Rule: rule(0, "ALL", "ALL", "0.0.0.0/0", "DROP")}.String()
	if want := "sg-12345678 rule #0 DROP ALL ALL from 0.0.0.0/0"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
