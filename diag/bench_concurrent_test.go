package diag_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencent"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
)

// concurrentDiagnoses is how many diagnoses of different instances
// BenchmarkConcurrentDiagnoses runs at once, as in a region-wide incident.
const concurrentDiagnoses = 50

// BenchmarkConcurrentDiagnoses runs 50 diagnoses of 50 different instances
// at once against the simulator (100 ms per API call, probe off) and reports
// the Tencent Cloud API calls per diagnosis (those the simulator refused
// included, and those alone as refused/diagnosis), the wall time of the
// round and the findings left unknown (by throttling, and in all), with and
// without the in-guest checks: at the default budgets; at a budget of 3
// calls per second for every action that the simulator enforces too
// (answering RequestLimitExceeded beyond it); and with the simulator's limit
// of 3 alone, the client unaware of it.
func BenchmarkConcurrentDiagnoses(b *testing.B) {
	for _, v := range []struct {
		guest    bool
		budget   int // the client's for every action; 0 for the defaults
		simLimit int // the simulator's for every action; 0 for none
	}{{false, 0, 0}, {true, 0, 0}, {false, 3, 3}, {true, 3, 3}, {false, 0, 3}} {
		b.Run(fmt.Sprintf("guest=%v/budget=%d/sim=%d", v.guest, v.budget, v.simLimit), func(b *testing.B) {
			benchmarkConcurrent(b, v.guest, v.budget, v.simLimit)
		})
	}
}

// everyAction returns a budget of perSecond for every action, or nil for
// perSecond 0.
func everyAction(perSecond int) map[string]int {
	if perSecond == 0 {
		return nil
	}
	budgets := map[string]int{}
	for _, a := range tencent.Actions() {
		budgets[a.Name] = perSecond
	}
	return budgets
}

// startLimitedSim starts a simulator without the built-in scenarios, with
// latency per call and simLimit requests per second for every action (0:
// none), holding n distinct instances (each with its own public IP and
// security group), and returns it, its endpoint and the instances' targets.
func startLimitedSim(tb testing.TB, n, simLimit int, latency time.Duration) (*tencentsim.Sim, string, []diag.Target) {
	tb.Helper()
	sim := tencentsim.New(tencentsim.Options{Scenarios: []tencentsim.Scenario{}, Latency: latency,
		RateLimits: []tencentsim.RateLimit{{PerSecond: simLimit}}})
	var targets []diag.Target
	for i := range n {
		id := fmt.Sprintf("ins-bench%03d", i)
		sc := tencentsim.DefaultScenario()
		sc.ID, sc.PublicIPs = id, []string{fmt.Sprintf("127.0.1.%d", i+1)}
		if err := sim.AddScenario(sc); err != nil {
			tb.Fatal(err)
		}
		target, err := diag.ParseTarget(id)
		if err != nil {
			tb.Fatal(err)
		}
		targets = append(targets, target)
	}
	endpoint, err := sim.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(sim.Close)
	return sim, endpoint, targets
}

// budgetClient returns a client of the simulator at endpoint spending
// budgets (tencent.Config.RateLimits; nil: the defaults).
func budgetClient(tb testing.TB, endpoint string, budgets map[string]int) *tencent.Client {
	tb.Helper()
	client, err := tencent.New(tencent.Config{Region: "ap-guangzhou", Endpoint: endpoint, Scheme: "http",
		SecretID: tencentsim.TestSecretID, SecretKey: tencentsim.TestSecretKey, RateLimits: budgets})
	if err != nil {
		tb.Fatal(err)
	}
	return client
}

// unknownCount tallies the findings concurrent diagnoses left unknown.
type unknownCount struct{ throttled, all atomic.Int64 }

func (u *unknownCount) add(r *diag.Report) {
	for _, f := range r.Findings {
		if f.Status == diag.StatusUnknown {
			u.all.Add(1)
			if throttledFinding(f) {
				u.throttled.Add(1)
			}
		}
	}
}

// diagnoseAll diagnoses every target at once with d, failing tb on an
// error or a failed check (every instance is healthy), and counts the
// unknown findings into unknowns.
func diagnoseAll(tb testing.TB, d *diag.Diagnoser, targets []diag.Target, unknowns *unknownCount) {
	var wg sync.WaitGroup
	for _, target := range targets {
		wg.Go(func() {
			r, err := d.Diagnose(context.Background(), diag.Request{Target: target})
			if err != nil || r.Failed() {
				tb.Errorf("%s: %v, %+v", target.Raw, err, failedChecks(r))
				return
			}
			unknowns.add(r)
		})
	}
	wg.Wait()
}

func benchmarkConcurrent(b *testing.B, guest bool, budget, simLimit int) {
	sim, endpoint, targets := startLimitedSim(b, concurrentDiagnoses, simLimit, 100*time.Millisecond)
	var (
		total    time.Duration
		unknowns unknownCount
	)
	for b.Loop() {
		// A new client each round: nothing cached from the last one.
		b.StopTimer()
		d := diag.NewDiagnoser(budgetClient(b, endpoint, everyAction(budget)), diag.Options{Region: "ap-guangzhou", PortProbe: false, GuestChecks: guest, Dialer: sim.Dialer()})
		b.StartTimer()
		start := time.Now()
		diagnoseAll(b, d, targets, &unknowns)
		total += time.Since(start)
	}
	perAction, refused := map[string]int{}, 0
	for _, c := range sim.Calls() {
		perAction[c.Action]++
		if c.ErrorCode == "RequestLimitExceeded" {
			refused++
		}
	}
	b.Logf("%d rounds: calls by action %v", b.N, perAction)
	diagnoses := float64(b.N * concurrentDiagnoses)
	b.ReportMetric(float64(len(sim.Calls()))/diagnoses, "calls/diagnosis")
	b.ReportMetric(float64(refused)/diagnoses, "refused/diagnosis")
	b.ReportMetric(float64((total / time.Duration(b.N)).Milliseconds()), "round-ms")
	b.ReportMetric(float64(unknowns.throttled.Load())/diagnoses, "throttled-unknowns/diagnosis")
	b.ReportMetric(float64(unknowns.all.Load())/diagnoses, "unknowns/diagnosis")
}

// throttledFinding reports whether f is unknown because of throttling.
func throttledFinding(f diag.Finding) bool {
	return f.Status == diag.StatusUnknown && strings.Contains(f.Detail, "rate limited")
}

func failedChecks(r *diag.Report) []string {
	var out []string
	if r == nil {
		return out
	}
	for _, f := range r.Findings {
		if f.Status == diag.StatusFail {
			out = append(out, string(f.Check)+": "+f.Title+": "+f.Detail)
		}
	}
	return out
}
