package diag_test

import (
	"context"
	"fmt"
	"sync"
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
// the Tencent Cloud API calls per diagnosis and the wall time of the round,
// with and without the in-guest checks.
func BenchmarkConcurrentDiagnoses(b *testing.B) {
	for _, guest := range []bool{false, true} {
		b.Run(fmt.Sprintf("guest=%v", guest), func(b *testing.B) {
			benchmarkConcurrent(b, guest)
		})
	}
}

func benchmarkConcurrent(b *testing.B, guest bool) {
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
	var total time.Duration
	for b.Loop() {
		// A new client each round: nothing cached from the last one.
		b.StopTimer()
		client, err := tencent.New(tencent.Config{Region: "ap-guangzhou", Endpoint: endpoint, Scheme: "http",
			SecretID: tencentsim.TestSecretID, SecretKey: tencentsim.TestSecretKey})
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
				}
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
