package tencent

import (
	"testing"
)

func TestDocumentedRateLimits(t *testing.T) {
	want := map[string]int{
		"DescribeInstances":             40,
		"DescribeImages":                40,
		"RebootInstances":               10,
		"StartInstances":                10,
		"DescribeInstanceVncUrl":        10,
		"DescribeSecurityGroupPolicies": 100,
		"CreateSecurityGroupPolicies":   100,
		"DeleteSecurityGroupPolicies":   100,
		"DescribeAddressTemplates":      100,
		"DescribeAddressTemplateGroups": 100,
		"DescribeServiceTemplates":      100,
		"DescribeServiceTemplateGroups": 100,
		"DescribeAddresses":             20,
		"GetMonitorData":                20,
		"DescribeAccountBalance":        20,
		"RunCommand":                    20,
		"DescribeInvocationTasks":       20,
		"DescribeAutomationAgentStatus": 20,
		"DescribeBasicDeviceStatus":     20,
	}
	if len(actions) != len(want) {
		t.Errorf("%d actions, want %d", len(actions), len(want))
	}
	for _, a := range actions {
		if a.perSecond != want[a.name] {
			t.Errorf("%s: documented %d/s, want %d/s", a.name, a.perSecond, want[a.name])
		}
		if _, ok := apiVersions[a.name]; !ok {
			t.Errorf("the fake does not know %s", a.name)
		}
	}
}

func TestOnlyMutatingActionsAreMarkedSo(t *testing.T) {
	mutating := map[string]bool{
		"RebootInstances": true, "StartInstances": true, "RunCommand": true,
		"CreateSecurityGroupPolicies": true, "DeleteSecurityGroupPolicies": true,
	}
	for _, a := range actions {
		if a.mutating != mutating[a.name] {
			t.Errorf("%s: mutating %v, want %v", a.name, a.mutating, mutating[a.name])
		}
	}
}
