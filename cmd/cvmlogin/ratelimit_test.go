package main

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/configs"
	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencent"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
)

// TestTwoReplicasStayWithinTheBudgetInEverySecond runs two replicas, each
// with its own Tencent Cloud client and Redis connection but one Redis and
// one key prefix, both calling as fast as they can, and counts the calls the
// provider receives in each second.
func TestTwoReplicasStayWithinTheBudgetInEverySecond(t *testing.T) {
	const budget = 5
	sim := tencentsim.New(tencentsim.Options{})
	endpoint, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	cfg := &configs.Config{TencentCloud: configs.TencentCloud{RateLimits: map[string]int{"describeinstances": budget}}}
	prefix := redistest.KeyPrefix(t, redistest.New(t))
	replica := func() *tencent.Client {
		store := conversations.New(redistest.New(t), conversations.Options{Prefix: prefix})
		limiter, err := sharedLimiter(cfg, store, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		c, err := tencent.New(tencent.Config{Region: "ap-guangzhou", Endpoint: endpoint, Scheme: "http",
			SecretID: tencentsim.TestSecretID, SecretKey: tencentsim.TestSecretKey, Limiter: limiter,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	replicas := []*tencent.Client{replica(), replica()}

	end := time.Now().Add(2500 * time.Millisecond)
	var wg sync.WaitGroup
	for _, c := range replicas {
		for range 4 {
			wg.Go(func() {
				for time.Now().Before(end) {
					ctx, cancel := context.WithDeadline(t.Context(), end)
					// By name: neither cached nor merged. Refused near the end:
					// no slot before the deadline.
					_, _ = c.FindInstances(ctx, "ap-guangzhou", diag.InstanceQuery{Name: "web-1"})
					cancel()
				}
			})
		}
	}
	wg.Wait()

	perSecond := map[int64]int{}
	for _, call := range sim.Calls() {
		if call.Action == "DescribeInstances" {
			perSecond[call.Time.Unix()]++
		}
	}
	total := 0
	for sec, n := range perSecond {
		total += n
		if n > budget {
			t.Errorf("second %d: the provider received %d calls, budget %d/s", sec, n, budget)
		}
	}
	if len(perSecond) < 2 || total <= budget {
		t.Errorf("%d calls over %d seconds: the replicas did not contend for the budget", total, len(perSecond))
	}
}
