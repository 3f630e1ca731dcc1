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
		{"comma list with range", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "80, 3380-3390", "0.0.0.0/0", "ACCEPT"))}, Traffic{"TCP", 3389}, VerdictAccept, "sg-a", 0},
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
		{"referenced group before drop is indeterminate", []SecurityGroupPolicies{group("sg-a", SecurityGroupPolicy{Index: 0, Protocol: "TCP", Port: "22", SourceGroupID: "sg-zzz", Action: "ACCEPT"}, rule(1, "ALL", "ALL", "0.0.0.0/0", "DROP"))}, ssh, VerdictIndeterminate, "sg-a", 1},
		{"address template accept, nothing else", []SecurityGroupPolicies{group("sg-a", SecurityGroupPolicy{Index: 0, Protocol: "TCP", Port: "22", AddressTemplate: "ipm-1", Action: "ACCEPT"})}, ssh, VerdictIndeterminate, "", 0},
		{"service template drop before accept is indeterminate", []SecurityGroupPolicies{group("sg-a", SecurityGroupPolicy{Index: 0, ServiceTemplate: "ppm-1", CidrBlock: "0.0.0.0/0", Action: "DROP"}, rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictIndeterminate, "sg-a", 1},
		{"template with same action does not matter", []SecurityGroupPolicies{group("sg-a", SecurityGroupPolicy{Index: 0, Protocol: "TCP", Port: "22", AddressTemplate: "ipm-1", Action: "ACCEPT"}, rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictAccept, "sg-a", 1},
		{"icmp accepted", []SecurityGroupPolicies{group("sg-a", rule(0, "ICMP", "", "0.0.0.0/0", "ACCEPT"))}, Traffic{Protocol: "ICMP"}, VerdictAccept, "sg-a", 0},
		{"icmp not matched by tcp all", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "ALL", "0.0.0.0/0", "ACCEPT"))}, Traffic{Protocol: "ICMP"}, VerdictNoMatch, "", 0},
		{"icmp matched by protocol ALL drop", []SecurityGroupPolicies{group("sg-a", rule(0, "ALL", "ALL", "0.0.0.0/0", "DROP"), rule(1, "ICMP", "", "0.0.0.0/0", "ACCEPT"))}, Traffic{Protocol: "ICMP"}, VerdictDrop, "sg-a", 0},
		{"malformed port never matches", []SecurityGroupPolicies{group("sg-a", rule(0, "TCP", "2x", "0.0.0.0/0", "ACCEPT"))}, ssh, VerdictNoMatch, "", 0},
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

func TestRuleRefString(t *testing.T) {
	got := RuleRef{GroupID: "sg-12345678", Rule: rule(0, "ALL", "ALL", "0.0.0.0/0", "DROP")}.String()
	if want := "sg-12345678 rule #0 DROP ALL ALL from 0.0.0.0/0"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
