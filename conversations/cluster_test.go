package conversations

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
)

// storeOn returns a Store on the Redis o describes, through NewClient; the
// client is closed when the test ends.
func storeOn(t *testing.T, o ClientOptions) *Store {
	t.Helper()
	rdb, err := NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return New(rdb, Options{Prefix: "store-test:"})
}

// TestStoreOnRedisCluster runs the store's multi-key and scripted operations
// against a real three-master Redis Cluster, through the universal client
// NewClient returns for several addresses: a script or transaction touching
// keys in different slots would fail with CROSSSLOT.
func TestStoreOnRedisCluster(t *testing.T) {
	s := storeOn(t, ClientOptions{Addrs: redistest.StartCluster(t)})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	t.Run("conversation and log", func(t *testing.T) {
		id := NewID()
		if err := s.CreateConversation(ctx, Conversation{ID: id, Channel: "C1", ThreadTS: "1.2", Target: "ins-abc12345"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetStatus(ctx, id, "done"); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendLog(ctx, id, LogEntry{Time: time.Now(), Kind: "check", Text: "ok"}); err != nil {
			t.Fatal(err)
		}
		if c, err := s.Conversation(ctx, id); err != nil || c.Status != "done" {
			t.Errorf("Conversation = %+v, %v; want status done", c, err)
		}
		if log, err := s.Log(ctx, id); err != nil || len(log) != 1 {
			t.Errorf("Log = %+v, %v; want one entry", log, err)
		}
	})

	t.Run("audit, buttons and deduplication", func(t *testing.T) {
		if err := s.Audit(ctx, Event{Time: time.Now(), Actor: "U1", Action: "diagnose", InstanceID: "ins-abc12345"}); err != nil {
			t.Fatal(err)
		}
		if events, err := s.AuditEvents(ctx, time.Now().Add(-time.Minute), "ins-abc12345"); err != nil || len(events) != 1 {
			t.Errorf("AuditEvents = %d events, %v; want 1", len(events), err)
		}
		id, err := s.CreateRef(ctx, Ref{Action: "approve", ConversationID: NewID(), Channel: "C1"})
		if err != nil {
			t.Fatal(err)
		}
		if ref, err := s.ResolveRef(ctx, id); err != nil || ref.Action != "approve" {
			t.Errorf("ResolveRef = %+v, %v", ref, err)
		}
		if first, err := s.FirstSeen(ctx, "event", "Ev1", time.Minute); err != nil || !first {
			t.Errorf("FirstSeen = %v, %v; want true", first, err)
		}
	})

	t.Run("job queue", func(t *testing.T) {
		q := s.queue()
		lane, _ := s.laneOf(Job{Kind: JobDiagnose, Channel: "C0A"})
		slot, err := s.rdb.ClusterKeySlot(ctx, q.defaultLane).Result()
		must(t, err)
		for _, key := range []string{q.fixLane, q.ring, q.ringed, q.lanes, q.bell, lane} {
			if n, err := s.rdb.ClusterKeySlot(ctx, key).Result(); err != nil || n != slot {
				t.Errorf("%s is in slot %d (%v), the default lane %s in %d", key, n, err, q.defaultLane, slot)
			}
		}
		var got order
		var jobs []Job
		for _, lane := range []string{"C0A", "C0A", "C0A", "C0B", "-", "fix"} {
			jobs = append(jobs, jobsIn(lane, 1)...)
		}
		for _, j := range jobs {
			if err := s.Enqueue(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
		if ahead, err := s.QueuePosition(ctx, "C0C"); err != nil || ahead != 1+1+1+1 {
			t.Errorf("QueuePosition = %d, %v; want 4 (the fix and one job of each lane)", ahead, err)
		}
		stop := consume(t, testWorker(t, s), "c1", func(_ context.Context, j Job) error {
			got.add(j)
			return nil
		})
		defer stop()
		waitFor(t, "every job handled", 10*time.Second, func() bool { return len(got.get()) == len(jobs) })
		if want := []string{"fix", "C0A", "C0B", "-", "C0A", "C0A"}; !slices.Equal(got.get(), want) {
			t.Errorf("lanes served in the order %v, want %v", got.get(), want)
		}
		waitFor(t, "the queue empty", 5*time.Second, func() bool {
			n, err := s.QueueDepth(ctx)
			return err == nil && n == 0
		})
	})

	t.Run("fix compare-and-set", func(t *testing.T) {
		fr, err := s.CreateFixRequest(ctx, sampleFixRequest(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var wins, conflicts int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				_, err := s.Transition(ctx, fr.ID, diag.FixRequested, diag.FixApproved, nil)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, ErrConflict):
					conflicts++
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if wins != 1 || conflicts != 4 {
			t.Errorf("%d transitions won and %d conflicted, want 1 and 4", wins, conflicts)
		}
	})

	t.Run("coalescing", func(t *testing.T) {
		first, second := NewID(), NewID()
		if _, ok, err := s.AcquireRun(ctx, instanceKey, first, time.Minute); err != nil || !ok {
			t.Fatalf("AcquireRun = %v, %v; want acquired", ok, err)
		}
		if owner, ok, err := s.AcquireRun(ctx, instanceKey, second, time.Minute); err != nil || ok || owner != first {
			t.Errorf("second AcquireRun = %s, %v, %v; want owner %s, not acquired", owner, ok, err, first)
		}
		if err := s.ReleaseRun(ctx, instanceKey, first); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("rate limiter", func(t *testing.T) {
		l := s.RateLimiter(RateLimiterOptions{Budgets: map[string]int{testAction: 2}})
		for range 3 {
			if err := l.Wait(ctx, testAccount, testAction); err != nil {
				t.Fatal(err)
			}
		}
		if l.degraded.Load() {
			t.Error("the limiter fell back to a process budget: Redis refused its script")
		}
	})

	t.Run("Slack pacer", func(t *testing.T) {
		limits := []Limit{{Key: "chat.postMessage:C1", Every: time.Second, Burst: 2}, {Key: "chat.postMessage", Every: 10 * time.Millisecond, Burst: 5}}
		for i := range 3 {
			wait, ok, err := s.Pacer().Reserve(ctx, "T1", limits, -1)
			if err != nil || !ok {
				t.Fatalf("reservation %d: ok %v, %v (a CROSSSLOT error means the limits do not share a hash slot)", i, ok, err)
			}
			if i == 2 && wait < 500*time.Millisecond {
				t.Errorf("the third post in a channel allowing 1/s with a burst of 2 may go in %v", wait)
			}
		}
	})
}
