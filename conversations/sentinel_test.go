package conversations

import (
	"context"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
)

// TestStoreSurvivesASentinelFailover writes through a Sentinel-managed
// master, kills it, and checks that, once the replica is promoted, the store
// still holds what was written and accepts new writes, and that the job
// queue's lanes deliver the jobs queued before and after.
func TestStoreSurvivesASentinelFailover(t *testing.T) {
	sentinel := redistest.StartSentinel(t)
	s := storeOn(t, ClientOptions{Addrs: []string{sentinel.Addr}, MasterName: redistest.SentinelMaster})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	fr, err := s.CreateFixRequest(ctx, sampleFixRequest(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	queued := Job{ID: NewID(), Kind: JobDiagnose, Channel: "C0A"}
	if err := s.Enqueue(ctx, queued); err != nil {
		t.Fatal(err)
	}
	sentinel.FailOver()

	var moved FixRequest
	waitFor(t, "the store to answer through the new master", 20*time.Second, func() bool {
		moved, err = s.Transition(ctx, fr.ID, diag.FixRequested, diag.FixApproved, nil)
		return err == nil
	})
	if moved.Status != diag.FixApproved {
		t.Errorf("after the failover the request is %s, want approved", moved.Status)
	}
	var h handled
	consume(t, testWorker(t, s), "c1", func(_ context.Context, j Job) error { h.add(j); return nil })
	after := Job{ID: NewID(), Kind: JobDiagnose, Channel: "C0B"}
	if err := s.Enqueue(ctx, after); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the jobs queued before and after the failover handled", 10*time.Second, func() bool {
		return h.times(queued.ID) == 1 && h.times(after.ID) == 1
	})
	l := s.RateLimiter(RateLimiterOptions{Budgets: map[string]int{testAction: 5}})
	if err := l.Wait(ctx, testAccount, testAction); err != nil || l.degraded.Load() {
		t.Errorf("rate limiter after the failover: %v (degraded %v)", err, l.degraded.Load())
	}
}
