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
// the Tencent Cloud API calls per diagnosis, the wall time of the round and
// the findings left unknown by throttling, with and without the in-guest
// checks, at the default budgets and at 3 calls per second for every action.
func BenchmarkConcurrentDiagnoses(b *testing.B) {
	for _, v := range []struct {
		guest  bool
		budget int // every action's; 0 for the defaults
	}{{false, 0}, {true, 0}, {false, 3}} {
		b.Run(fmt.Sprintf("guest=%v/budget=%d", v.guest, v.budget), func(b *testing.B) {
			benchmarkConcurrent(b, v.guest, v.budget)
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

func benchmarkConcurrent(b *testing.B, guest bool, budget int) {
	sim := tencentsim.New(tencentsim.Options{Scenarios: []tencentsim.Scenario{}, Latency: 100 * time.Millisecond})
	var targets []diag.Target
	for i := range concurrentDiagnoses {
		id := fmt.Sprintf("ins-bench%03d", i)
		sc := tencentsim.DefaultScenario()
		sc.ID, sc.PublicIPs = id, []string{fmt.Sprintf("127.0.1.%d", i+1)}
		if err := sim.AddScenario(sc); err != nil {
			b.Fatal(err)
		}
		target, err := diag.ParseTarget(id)
		if err != nil {
			b.Fatal(err)
		}
		targets = append(targets, target)
	}
	endpoint, err := sim.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	var (
		total     time.Duration
		throttled atomic.Int64
	)
	for b.Loop() {
		// A new client each round: nothing cached from the last one.
		b.StopTimer()
		client, err := tencent.New(tencent.Config{Region: "ap-guangzhou", Endpoint: endpoint, Scheme: "http",
			SecretID: tencentsim.TestSecretID, SecretKey: tencentsim.TestSecretKey, RateLimits: everyAction(budget)})
		if err != nil {
			b.Fatal(err)
		}
		d := diag.NewDiagnoser(client, diag.Options{Region: "ap-guangzhou", PortProbe: false, GuestChecks: guest, Dialer: sim.Dialer()})
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for _, target := range targets {
			wg.Go(func() {
				r, err := d.Diagnose(context.Background(), diag.Request{Target: target})
				if err != nil || r.Failed() {
					b.Errorf("%s: %v, %+v", target.Raw, err, failedChecks(r))
					return
				}
				throttled.Add(int64(throttledUnknowns(r)))
			})
		}
		wg.Wait()
		total += time.Since(start)
	}
	perAction := map[string]int{}
	for _, c := range sim.Calls() {
		perAction[c.Action]++
	}
	b.Logf("%d rounds: calls by action %v", b.N, perAction)
	diagnoses := b.N * concurrentDiagnoses
	b.ReportMetric(float64(len(sim.Calls()))/float64(diagnoses), "calls/diagnosis")
	b.ReportMetric(float64((total / time.Duration(b.N)).Milliseconds()), "round-ms")
	b.ReportMetric(float64(throttled.Load())/float64(diagnoses), "throttled-unknowns/diagnosis")
}

// throttledUnknowns counts the findings of r left unknown by throttling.
func throttledUnknowns(r *diag.Report) int {
	n := 0
	for _, f := range r.Findings {
		if f.Status == diag.StatusUnknown && strings.Contains(f.Detail, "rate limited") {
			n++
		}
	}
	return n
}

func failedChecks(r *diag.Report) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Status == diag.StatusFail {
			out = append(out, string(f.Check)+": "+f.Title+": "+f.Detail)
		}
	}
	return out
}
