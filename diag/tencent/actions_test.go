package tencent

import (
	"slices"
	"testing"
)

func TestActionsChanges(t *testing.T) {
	want := map[string]bool{
		"cvm:DescribeInstances":              false,
		"cvm:DescribeImages":                 false,
		"cvm:DescribeInstanceVncUrl":         false,
		"cvm:RebootInstances":                true,
		"cvm:StartInstances":                 true,
		"vpc:DescribeAddresses":              false,
		"vpc:DescribeSecurityGroupPolicies":  false,
		"vpc:CreateSecurityGroupPolicies":    true,
		"vpc:DeleteSecurityGroupPolicies":    true,
		"vpc:DescribeAddressTemplates":       false,
		"vpc:DescribeAddressTemplateGroups":  false,
		"vpc:DescribeServiceTemplates":       false,
		"vpc:DescribeServiceTemplateGroups":  false,
		"monitor:GetMonitorData":             false,
		"billing:DescribeAccountBalance":     false,
		"tat:RunCommand":                     false,
		"tat:DescribeInvocationTasks":        false,
		"tat:DescribeAutomationAgentStatus":  false,
		"antiddos:DescribeBasicDeviceStatus": false,
	}
	got := map[string]bool{}
	for _, a := range Actions() {
		if _, dup := got[a.String()]; dup {
			t.Errorf("%s listed twice", a)
		}
		got[a.String()] = a.Changes
	}
	for name, changes := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("Actions() lacks %s", name)
		} else if g != changes {
			t.Errorf("%s: Changes = %v, want %v", name, g, changes)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("Actions() has %s, which this test does not know: add it, and its permission to configs/cam-policy*.json", name)
		}
	}
}

func TestActionsDerivesChanges(t *testing.T) {
	tests := []struct {
		name string
		in   action
		want bool
	}{
		{"read", action{service: "cvm", name: "DescribeInstances"}, false},
		{"new mutating action defaults to a change", action{service: "cvm", name: "TerminateInstances", mutating: true}, true},
		{"mutating but read-only", action{service: "tat", name: runCommand.name, mutating: true}, false},
		{"read-only list applies to mutating actions only", action{service: "tat", name: runCommand.name}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exported(tt.in)
			if got.Changes != tt.want || got.Service != tt.in.service || got.Name != tt.in.name {
				t.Errorf("exported(%+v) = %+v, want Changes %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestActionsIsACopy(t *testing.T) {
	first := Actions()
	first[0].Name = "Clobbered"
	if second := Actions(); second[0].Name == "Clobbered" || len(second) != len(actions) {
		t.Errorf("Actions() shares its slice: %v", second)
	}
	if !slices.EqualFunc(Actions(), actions, func(a Action, b action) bool { return a.Name == b.name && a.Service == b.service }) {
		t.Error("Actions() is not in the order of the actions table")
	}
}
