package conversations

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func sampleWatch() Watch {
	start := time.Now().Truncate(time.Millisecond)
	return Watch{ID: NewID(), ConversationID: NewID(), InstanceID: "ins-abc12345", Region: "ap-guangzhou", OS: "linux",
		Address: "203.0.113.7:22", Port: 22, GuestCheck: true, User: "U1", StartedAt: start, Deadline: start.Add(10 * time.Minute)}
}

// TestWatchJobResumesFromTheRecord: a started watch queues its job; the
// consumer finds the record by the job's ID, with the original start and
// deadline, and a job queued again (handed over) does the same.
func TestWatchJobResumesFromTheRecord(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, Options{})
	w := sampleWatch()
	jobs := make(chan Job, 2)
	consume(t, s.Worker(WorkerOptions{Block: 50 * time.Millisecond, Logger: testLogger(t)}), "w1", func(_ context.Context, j Job) error {
		jobs <- j
		return nil
	})
	must(t, s.StartWatch(ctx, w))
	must(t, s.Enqueue(ctx, w.Job()))
	for range 2 {
		var j Job
		select {
		case j = <-jobs:
		case <-time.After(5 * time.Second):
			t.Fatal("the watch's job was not delivered")
		}
		if j.Kind != JobWatch || j.ID != w.ID || j.ConversationID != w.ConversationID {
			t.Fatalf("job %+v, want the watch job of %s", j, w.ID)
		}
		got, err := s.Watch(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.StartedAt.Equal(w.StartedAt) || !got.Deadline.Equal(w.Deadline) || got.Address != w.Address || !got.GuestCheck {
			t.Errorf("resumed watch %+v, want %+v", got, w)
		}
	}
}

// TestEndWatchOnce: of concurrent enders exactly one may post the end, and
// the watch is gone afterwards.
func TestEndWatchOnce(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, Options{})
	w := sampleWatch()
	must(t, s.StartWatch(ctx, w))
	if n := firstOf(t, 10, func() (bool, error) { return s.EndWatch(ctx, w.ID) }); n != 1 {
		t.Fatalf("%d enders were first, want 1", n)
	}
	if _, err := s.Watch(ctx, w.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Watch after its end: %v, want ErrNotFound", err)
	}
}

func TestStartWatchRejects(t *testing.T) {
	s, _ := newStore(t, Options{})
	bad := sampleWatch()
	bad.Deadline = bad.StartedAt
	noID := sampleWatch()
	noID.ID = "x"
	for name, w := range map[string]Watch{"deadline not after start": bad, "bad ID": noID} {
		if err := s.StartWatch(t.Context(), w); err == nil {
			t.Errorf("%s: StartWatch succeeded", name)
		}
	}
	if _, err := s.Watch(t.Context(), "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Watch of a malformed ID: %v, want ErrNotFound", err)
	}
}

// firstOf calls once from n goroutines at the same time and returns how
// many got first true.
func firstOf(t *testing.T, n int, once func() (first bool, err error)) int {
	t.Helper()
	var firsts atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			first, err := once()
			if err != nil {
				t.Error(err)
			}
			if first {
				firsts.Add(1)
			}
		})
	}
	wg.Wait()
	return int(firsts.Load())
}
