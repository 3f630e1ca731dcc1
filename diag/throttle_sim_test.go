package diag_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
)

// TestThrottlingThatEndsBeforeTheDeadlineLeavesNoUnknown throttles every
// GetMonitorData call for longer than a few retries would wait, then lifts
// the throttling well before the check's deadline: the load checks must come
// out known.
func TestThrottlingThatEndsBeforeTheDeadlineLeavesNoUnknown(t *testing.T) {
	d, sim := simDiagnoser(t, diag.Options{PortProbe: false, GuestChecks: false, CheckTimeout: 10 * time.Second})
	sim.SetFault("monitor", "GetMonitorData", "RequestLimitExceeded")
	// Longer than the 3 retries of the default 200 ms backoff take (at most
	// 1.4 s), far shorter than the 10 s deadline.
	lift := time.AfterFunc(1600*time.Millisecond, func() { sim.SetFault("monitor", "GetMonitorData", "") })
	defer lift.Stop()

	r, err := d.Diagnose(context.Background(), diag.Request{Target: diag.Target{Raw: "ins-linux001", Kind: diag.TargetInstanceID}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		switch f.Check {
		case diag.CheckLoadCPU, diag.CheckLoadMemory, diag.CheckBandwidthUsage:
			if f.Status != diag.StatusOK {
				t.Errorf("%s: %s %q (%s), want ok once the throttling ended", f.Check, f.Status, f.Title, f.Detail)
			}
		}
	}
}

// TestConcurrentDiagnosesWaitForTheBudget: 21 diagnoses at once, each with
// its own security group, at a budget of 3 calls per second for every
// action that the simulator enforces too. DescribeSecurityGroupPolicies takes
// one group per call, so the last group's turn comes some 7 s in, long after
// the 2 s per-call timeout: every check must still come out known, waiting
// for the budget until the diagnosis's deadline rather than the call's.
func TestConcurrentDiagnosesWaitForTheBudget(t *testing.T) {
	const budget = 3
	sim, endpoint, targets := startLimitedSim(t, 21, budget, 0)
	d := diag.NewDiagnoser(budgetClient(t, endpoint, everyAction(budget)), diag.Options{Region: "ap-guangzhou", PortProbe: false, GuestChecks: false,
		Timeout: 30 * time.Second, CheckTimeout: 2 * time.Second, Dialer: sim.Dialer()})
	var unknowns unknownCount
	diagnoseAll(t, d, targets, &unknowns)
	if n := unknowns.all.Load(); n != 0 {
		t.Errorf("%d findings unknown (%d by throttling), want none", n, unknowns.throttled.Load())
	}
}

// TestAnExhaustedDeadlineReportsTheThrottling: when the diagnosis's deadline
// passes before the budget lets a call through, the checks that needed it
// are unknown, saying the API is rate limited, whether the client's own
// budget or the provider (RequestLimitExceeded) held the call back.
func TestAnExhaustedDeadlineReportsTheThrottling(t *testing.T) {
	tests := []struct {
		name             string
		budget, simLimit int
		wantDetail       string
	}{
		{"the client's budget", 1, 0, "no slot before the deadline"},
		{"the provider's limit", 0, 1, "still throttled when the deadline passed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, endpoint, targets := startLimitedSim(t, 6, 0, 0)
			sim.SetRateLimit(tencentsim.RateLimit{Service: "vpc", Action: "DescribeSecurityGroupPolicies", PerSecond: tt.simLimit})
			var budgets map[string]int
			if tt.budget > 0 {
				budgets = map[string]int{"DescribeSecurityGroupPolicies": tt.budget}
			}
			d := diag.NewDiagnoser(budgetClient(t, endpoint, budgets), diag.Options{Region: "ap-guangzhou", PortProbe: false, GuestChecks: false,
				Timeout: 1500 * time.Millisecond, CheckTimeout: time.Second, Dialer: sim.Dialer()})
			var mu sync.Mutex
			var throttled []diag.Finding
			var wg sync.WaitGroup
			for _, target := range targets {
				wg.Go(func() {
					r, err := d.Diagnose(context.Background(), diag.Request{Target: target})
					if err != nil {
						t.Errorf("%s: %v", target.Raw, err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					throttled = append(throttled, slices.DeleteFunc(r.Findings, func(f diag.Finding) bool { return !throttledFinding(f) })...)
				})
			}
			wg.Wait()
			if len(throttled) == 0 {
				t.Fatal("no finding is unknown by throttling, want the checks whose group had no slot")
			}
			for _, f := range throttled {
				if f.Check != diag.CheckSGLoginPort && f.Check != diag.CheckSGICMP {
					t.Errorf("%s is unknown by throttling, want only the security-group checks: %s", f.Check, f.Detail)
				}
				if !strings.Contains(f.Detail, "DescribeSecurityGroupPolicies: rate limited") || !strings.Contains(f.Detail, tt.wantDetail) ||
					!strings.Contains(f.Remediation, "rate limited") {
					t.Errorf("%s: %q (%q), want it to say DescribeSecurityGroupPolicies was rate limited: %s", f.Check, f.Detail, f.Remediation, tt.wantDetail)
				}
			}
		})
	}
}
