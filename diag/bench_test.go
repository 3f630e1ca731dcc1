package diag_test

import (
	"context"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencent"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
)

// simulatedLatency is the per-call latency the benchmark injects; the
// critical path is two calls deep: DescribeInstances, then everything else.
const simulatedLatency = 150 * time.Millisecond

// BenchmarkDiagnoseCriticalPath measures one diagnosis against the simulator
// with every API call taking 150 ms (guest checks and probe off) and reports
// the wall time as a ratio of the 300 ms critical path.
func BenchmarkDiagnoseCriticalPath(b *testing.B) {
	sim := tencentsim.New(tencentsim.Options{Latency: simulatedLatency})
	endpoint, err := sim.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	client, err := tencent.New(tencent.Config{Region: "ap-guangzhou", Endpoint: endpoint, Scheme: "http",
		SecretID: tencentsim.TestSecretID, SecretKey: tencentsim.TestSecretKey})
	if err != nil {
		b.Fatal(err)
	}
	d := diag.NewDiagnoser(client, diag.Options{Region: "ap-guangzhou", PortProbe: false, GuestChecks: false})
	target, _ := diag.ParseTarget("ins-sgdrop01")
	b.ResetTimer()
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		r, err := d.Diagnose(context.Background(), diag.Request{Target: target})
		total += time.Since(start)
		if err != nil || r.LikelyCause == nil || *r.LikelyCause != diag.CheckSGLoginPort {
			b.Fatalf("unexpected diagnosis: %v, %+v", err, r.Summary)
		}
	}
	perOp := total / time.Duration(b.N)
	b.ReportMetric(float64(perOp.Milliseconds()), "wall-ms")
	b.ReportMetric(float64(perOp)/float64(2*simulatedLatency), "x-critical-path")
}
