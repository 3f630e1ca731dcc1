package tencent

import (
	"testing"

	"golang.org/x/time/rate"
)

func TestRateLimits(t *testing.T) {
	want := map[string]rate.Limit{
		"DescribeInstances":             40,
		"DescribeImages":                40,
		"RebootInstances":               10,
		"StartInstances":                10,
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
	limiters := newLimiters()
	if len(limiters) != len(want) {
		t.Errorf("%d limiters, want %d", len(limiters), len(want))
	}
	for name, limit := range want {
		l, ok := limiters[name]
		switch {
		case !ok:
			t.Errorf("no limiter for %s", name)
		case l.Limit() != limit || l.Burst() < 1:
			t.Errorf("%s: %v/s burst %d, want %v/s", name, l.Limit(), l.Burst(), limit)
		}
		if _, ok := apiVersions[name]; !ok {
			t.Errorf("the fake does not know %s", name)
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
