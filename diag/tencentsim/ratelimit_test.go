package tencentsim

import (
	"strings"
	"testing"
	"time"
)

func TestRateLimits(t *testing.T) {
	sg := actionKey{"vpc", "DescribeSecurityGroupPolicies"}
	ins := actionKey{"cvm", "DescribeInstances"}
	// request is one arrival: which action, how long after the start.
	type request struct {
		key actionKey
		at  time.Duration
	}
	tests := []struct {
		name     string
		limits   []RateLimit
		requests []request
		want     []bool // admitted
	}{
		{"no limit by default", nil,
			[]request{{sg, 0}, {sg, 0}, {sg, 0}, {sg, 0}}, []bool{true, true, true, true}},
		{"the limit in one second, then the next second", []RateLimit{{PerSecond: 2}},
			[]request{{sg, 0}, {sg, 100 * time.Millisecond}, {sg, 900 * time.Millisecond}, {sg, time.Second}, {sg, 1500 * time.Millisecond}, {sg, 1600 * time.Millisecond}},
			[]bool{true, true, false, true, true, false}},
		{"windows are seconds of the clock, not a sliding second", []RateLimit{{PerSecond: 1}},
			[]request{{sg, 900 * time.Millisecond}, {sg, 1100 * time.Millisecond}}, []bool{true, true}},
		{"each action has its own count", []RateLimit{{PerSecond: 1}},
			[]request{{sg, 0}, {ins, 0}, {sg, 0}, {ins, 0}}, []bool{true, true, false, false}},
		{"an action's own limit overrides every action's", []RateLimit{{PerSecond: 1}, {Service: "cvm", Action: "DescribeInstances", PerSecond: 3}},
			[]request{{ins, 0}, {ins, 0}, {ins, 0}, {ins, 0}, {sg, 0}, {sg, 0}}, []bool{true, true, true, false, true, false}},
		{"an action's zero lifts every action's limit for it", []RateLimit{{PerSecond: 1}, {Service: "cvm", Action: "DescribeInstances"}},
			[]request{{ins, 0}, {ins, 0}, {sg, 0}, {sg, 0}}, []bool{true, true, true, false}},
		{"a late request counts in the later second", []RateLimit{{PerSecond: 1}},
			[]request{{sg, 1100 * time.Millisecond}, {sg, 900 * time.Millisecond}, {sg, 2 * time.Second}}, []bool{true, false, true}},
	}
	start := time.Date(2026, time.March, 14, 8, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rl rateLimits
			for _, l := range tt.limits {
				rl.set(l)
			}
			for i, r := range tt.requests {
				if ok, _ := rl.admit(r.key, start.Add(r.at)); ok != tt.want[i] {
					t.Errorf("request %d (%s.%s at +%v): admitted %v, want %v", i, r.key.service, r.key.action, r.at, ok, tt.want[i])
				}
			}
		})
	}
}

// TestRateLimitAnswersRequestLimitExceeded: beyond an action's limit the
// simulator answers Tencent's error envelope with RequestLimitExceeded,
// records the call so, and serves the next second again.
func TestRateLimitAnswersRequestLimitExceeded(t *testing.T) {
	clock := newFakeClock()
	sim, client := startSim(t, clock, Options{RateLimits: []RateLimit{{Service: "cvm", Action: "DescribeInstances", PerSecond: 2}}})
	describe := func() response { return client.call("cvm", "DescribeInstances", `{"InstanceIds":["ins-linux001"]}`) }
	for i := range 2 {
		if r := describe(); r.code() != "" {
			t.Fatalf("call %d within the limit: %v", i, r.Error)
		}
	}
	r := describe()
	if r.code() != codeRequestLimitExceeded || !strings.Contains(r.Error.Message, "frequency limit") {
		t.Errorf("the third call in a second answered %+v, want RequestLimitExceeded", r.Error)
	}
	if calls := sim.Calls(); calls[len(calls)-1].ErrorCode != codeRequestLimitExceeded {
		t.Errorf("the refused call is recorded as %+v", calls[len(calls)-1])
	}
	if r := client.call("billing", "DescribeAccountBalance", `{}`); r.code() != "" {
		t.Errorf("an action without a limit answered %v", r.Error)
	}
	clock.Advance(time.Second)
	if r := describe(); r.code() != "" {
		t.Errorf("the next second: %v, want an answer", r.Error)
	}
	sim.SetRateLimit(RateLimit{Service: "cvm", Action: "DescribeInstances"})
	for range 3 {
		if r := describe(); r.code() != "" {
			t.Errorf("the limit lifted: %v", r.Error)
		}
	}
}
