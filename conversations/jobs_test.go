package conversations

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/internal/redistest"
	"github.com/redis/go-redis/v9"
)

const group = "workers"

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

// handled records which jobs were handled, and how often.
type handled struct {
	mu    sync.Mutex
	count map[string]int
}

func (h *handled) add(j Job) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.count == nil {
		h.count = map[string]int{}
	}
	h.count[j.ID]++
}

func (h *handled) times(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count[id]
}

func (h *handled) distinct() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.count)
}

// consume runs w.Consume in the background until the test ends or stop is
// called; stop waits for Consume to return and returns its error.
func consume(t *testing.T, w *Worker, consumer string, handle func(context.Context, Job) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Consume(ctx, group, consumer, handle) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				err = errors.New("Consume did not return within 5s of its context ending")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// pending returns how many jobs of lane are delivered but not acknowledged.
func pending(t *testing.T, c redis.UniversalClient, lane string) int64 {
	t.Helper()
	p, err := c.XPending(t.Context(), lane, group).Result()
	if err != nil {
		t.Fatal(err)
	}
	return p.Count
}

func TestEnqueueRejectsUnknownKinds(t *testing.T) {
	s, _ := newStore(t, Options{})
	if err := s.Enqueue(t.Context(), Job{Kind: "reboot"}); err == nil {
		t.Error("Enqueue of kind reboot succeeded")
	}
}

func TestWorkersShareJobsAndHandleEachOnce(t *testing.T) {
	ctx := t.Context()
	s, c := newStore(t, Options{})
	var h handled
	handle := func(_ context.Context, j Job) error { h.add(j); return nil }
	w := s.Worker(WorkerOptions{Block: 50 * time.Millisecond, Logger: testLogger(t)})
	stops := []func() error{consume(t, w, "w1", handle), consume(t, w, "w2", handle)}

	want := map[string]Job{}
	for range 20 {
		j := Job{ID: NewID(), Kind: JobDiagnose, ConversationID: NewID(), Target: "ins-abc12345", Region: "ap-guangzhou", Port: 22, Requester: "U1"}
		want[j.ID] = j
		must(t, s.Enqueue(ctx, j))
	}
	waitFor(t, "20 jobs handled", 5*time.Second, func() bool { return h.distinct() == 20 })
	waitFor(t, "no job pending", 5*time.Second, func() bool { return pending(t, c, s.queue().defaultLane) == 0 })
	for _, stop := range stops {
		if err := stop(); !errors.Is(err, context.Canceled) {
			t.Errorf("Consume returned %v, want context.Canceled", err)
		}
	}
	for id := range want {
		if n := h.times(id); n != 1 {
			t.Errorf("job %s handled %d times, want once", id, n)
		}
	}
	if n := c.XLen(ctx, s.key("jobs")).Val(); n != 0 {
		t.Errorf("%d entries left in the job stream, want 0: handled jobs are deleted", n)
	}
}

func TestFailedJobIsAcknowledged(t *testing.T) {
	ctx := t.Context()
	s, c := newStore(t, Options{})
	var h handled
	w := s.Worker(WorkerOptions{Block: 50 * time.Millisecond, Logger: testLogger(t)})
	consume(t, w, "w1", func(_ context.Context, j Job) error {
		h.add(j)
		return errors.New("diagnosis failed")
	})
	j := Job{ID: NewID(), Kind: JobFix, FixRequestID: NewID()}
	must(t, s.Enqueue(ctx, j))
	waitFor(t, "the job handled", 5*time.Second, func() bool { return h.times(j.ID) == 1 })
	fixes := s.queue().fixLane
	waitFor(t, "the job acknowledged", 5*time.Second, func() bool {
		return pending(t, c, fixes) == 0 && c.XLen(ctx, fixes).Val() == 0
	})
}

// TestAbandonedJobIsFinishedByAnotherConsumer: a consumer dies with a job in
// hand, in each kind of lane; another consumer claims it once idle.
func TestAbandonedJobIsFinishedByAnotherConsumer(t *testing.T) {
	for _, tt := range []struct {
		lane string
		job  Job
	}{
		{"default lane", Job{Kind: JobDiagnose}},
		{"channel lane", Job{Kind: JobDiagnose, Channel: "C0A"}},
		{"fix lane", Job{Kind: JobFix, FixRequestID: "fix-0123456789abcdef"}},
	} {
		t.Run(tt.lane, func(t *testing.T) { testAbandonedJob(t, tt.job) })
	}
}

func testAbandonedJob(t *testing.T, j Job) {
	ctx := t.Context()
	s, c := newStore(t, Options{})
	j.ID, j.ConversationID = NewID(), NewID()
	must(t, s.Enqueue(ctx, j))
	lane, _ := s.laneOf(j)

	// Consumer A takes the job and dies before acknowledging it.
	var a handled
	dying := s.Worker(WorkerOptions{Block: time.Second, ClaimIdle: time.Hour, Logger: testLogger(t)})
	var stopA func() error
	stopA = consume(t, dying, "A", func(ctx context.Context, j Job) error {
		a.add(j)
		go stopA()
		<-ctx.Done()
		return ctx.Err()
	})
	waitFor(t, "A to take the job", 5*time.Second, func() bool { return a.times(j.ID) == 1 })
	if err := stopA(); !errors.Is(err, context.Canceled) {
		t.Fatalf("A's Consume returned %v, want context.Canceled", err)
	}
	if n := pending(t, c, lane); n != 1 {
		t.Fatalf("%d jobs pending after A died, want 1", n)
	}

	// Consumer B claims it once it has been idle for ClaimIdle.
	var b handled
	w := s.Worker(WorkerOptions{Block: time.Second, ClaimIdle: 100 * time.Millisecond, Logger: testLogger(t)})
	stopB := consume(t, w, "B", func(_ context.Context, j Job) error { b.add(j); return nil })
	waitFor(t, "B to finish the job", 5*time.Second, func() bool { return b.times(j.ID) == 1 && pending(t, c, lane) == 0 })
	if err := stopB(); !errors.Is(err, context.Canceled) {
		t.Errorf("B's Consume returned %v, want context.Canceled", err)
	}
	if a.times(j.ID) != 1 || b.times(j.ID) != 1 {
		t.Errorf("A handled it %d times and B %d, want once each (A never finishing)", a.times(j.ID), b.times(j.ID))
	}
}

func TestJobBeingHandledIsNotClaimed(t *testing.T) {
	ctx := t.Context()
	s, c := newStore(t, Options{})
	const claimIdle = 100 * time.Millisecond
	w := s.Worker(WorkerOptions{Block: 20 * time.Millisecond, ClaimIdle: claimIdle, Logger: testLogger(t)})
	var h handled
	release := make(chan struct{})
	handle := func(_ context.Context, j Job) error {
		h.add(j)
		<-release
		return nil
	}
	consume(t, w, "slow", handle)
	j := Job{ID: NewID(), Kind: JobDiagnose}
	must(t, s.Enqueue(ctx, j))
	waitFor(t, "the slow consumer to take the job", 5*time.Second, func() bool { return h.times(j.ID) == 1 })
	consume(t, w, "eager", handle)

	// For five times ClaimIdle, the job must stay with its first consumer.
	deadline := time.After(5 * claimIdle)
	tick := time.NewTicker(claimIdle / 4)
	defer tick.Stop()
	for watching := true; watching; {
		select {
		case <-deadline:
			watching = false
		case <-tick.C:
			p, err := c.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: s.key("jobs"), Group: group, Start: "-", End: "+", Count: 10}).Result()
			must(t, err)
			if len(p) != 1 || p[0].Consumer != "slow" || p[0].Idle >= claimIdle {
				t.Fatalf("pending = %+v, want the job with consumer slow, idle under %v", p, claimIdle)
			}
			if n := h.times(j.ID); n != 1 {
				t.Fatalf("job handled %d times while the first consumer still works on it, want 1", n)
			}
		}
	}
	close(release)
	waitFor(t, "the job acknowledged", 5*time.Second, func() bool { return pending(t, c, s.queue().defaultLane) == 0 })
}

// TestConsumeSurvivesARedisRestart: Redis dies and comes back empty, its
// lanes, ring, groups and scripts gone; jobs queued after it are handled, in
// every kind of lane.
func TestConsumeSurvivesARedisRestart(t *testing.T) {
	ctx := t.Context()
	addr, stopRedis, restartRedis := redistest.StartServer(t)
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, DialerRetries: 1})
	t.Cleanup(func() { c.Close() })
	s := New(c, Options{})
	var h handled
	w := s.Worker(WorkerOptions{Logger: testLogger(t)})
	stop := consume(t, w, "w1", func(_ context.Context, j Job) error { h.add(j); return nil })

	before := Job{ID: NewID(), Kind: JobDiagnose, Channel: "C0BEFORE"}
	must(t, s.Enqueue(ctx, before))
	waitFor(t, "the job before the restart", 5*time.Second, func() bool { return h.times(before.ID) == 1 })

	stopRedis()
	if err := s.Enqueue(ctx, Job{Kind: JobDiagnose}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Enqueue while Redis is down: err = %v, want ErrUnavailable", err)
	}
	restartRedis() // empty: the lanes and their group are gone

	after := []Job{
		{ID: NewID(), Kind: JobDiagnose, Channel: "C0BEFORE"},
		{ID: NewID(), Kind: JobDiagnose, Channel: "C0AFTER"},
		{ID: NewID(), Kind: JobDiagnose},
		{ID: NewID(), Kind: JobFix},
	}
	for _, j := range after {
		must(t, s.Enqueue(ctx, j))
	}
	waitFor(t, "the jobs after the restart", 10*time.Second, func() bool {
		for _, j := range after {
			if h.times(j.ID) != 1 {
				return false
			}
		}
		return true
	})
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Consume returned %v, want context.Canceled", err)
	}
}

// TestTakenAckKeepsTheJobPending: a handler that takes over its job's
// acknowledgement returns at once, and the consumer goes on to the next
// job, but the job stays pending until the handler says it is done.
func TestTakenAckKeepsTheJobPending(t *testing.T) {
	s, rdb := newStore(t, Options{})
	w := s.Worker(WorkerOptions{Block: 50 * time.Millisecond, ClaimIdle: time.Minute, Logger: testLogger(t)})
	dones := make(chan func(), 2)
	stop := consume(t, w, "c1", func(ctx context.Context, j Job) error {
		dones <- TakeAck(ctx)
		return nil
	})
	for range 2 {
		if err := s.Enqueue(t.Context(), Job{Kind: JobDiagnose, ConversationID: NewID()}); err != nil {
			t.Fatal(err)
		}
	}
	first, second := <-dones, <-dones // both handled by the one consumer
	pending := func() int64 {
		p, err := rdb.XPending(t.Context(), s.key("jobs"), group).Result()
		if err != nil {
			t.Fatal(err)
		}
		return p.Count
	}
	if n := pending(); n != 2 {
		t.Fatalf("%d jobs pending while their handlers finish, want 2", n)
	}
	first()
	for deadline := time.Now().Add(5 * time.Second); pending() != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs pending after one handler finished, want 1", pending())
		}
	}
	second()
	if err := stop(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if n := pending(); n != 0 {
		t.Fatalf("%d jobs pending after their handlers finished, want 0", n)
	}
}
