package conversations

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cvmlogin/cvmlogin/internal/redistest"
)

// laneName says which lane a job of the tests below is in: its channel,
// "fix", or "-" for the default lane.
func laneName(j Job) string {
	switch {
	case j.Kind == JobFix:
		return "fix"
	case j.Channel == "":
		return "-"
	}
	return j.Channel
}

// jobsIn returns n diagnosis jobs for channel, or fixes for "fix", or
// channel-less jobs for "-".
func jobsIn(channel string, n int) []Job {
	jobs := make([]Job, n)
	for i := range jobs {
		jobs[i] = Job{ID: NewID(), Kind: JobDiagnose, Channel: channel}
		switch channel {
		case "fix":
			jobs[i] = Job{ID: jobs[i].ID, Kind: JobFix}
		case "-":
			jobs[i].Channel = ""
		}
	}
	return jobs
}

// testWorker returns a Worker of s that waits for jobs 1s at a time, the
// least, so that it stops soon after its Consume's context ends.
func testWorker(tb testing.TB, s *Store) *Worker {
	return s.Worker(WorkerOptions{Block: time.Second, Logger: testLogger(tb)})
}

// order records the lanes of the jobs handled, in order.
type order struct {
	mu    sync.Mutex
	lanes []string
}

func (o *order) add(j Job) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lanes = append(o.lanes, laneName(j))
}

func (o *order) get() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.lanes)
}

// TestWorkersTakeTurnsAcrossLanes queues jobs in several lanes, then lets one
// consumer handle them: it takes the approved fixes first, then one job from
// each lane in turn, in the order the lanes first got a job.
func TestWorkersTakeTurnsAcrossLanes(t *testing.T) {
	type batch struct {
		lane string
		n    int
	}
	tests := []struct {
		name   string
		queued []batch
		want   []string
	}{
		{"a quiet channel after a busy one", []batch{{"A", 5}, {"B", 1}}, []string{"A", "B", "A", "A", "A", "A"}},
		{"three channels", []batch{{"A", 3}, {"B", 2}, {"C", 1}}, []string{"A", "B", "C", "A", "B", "A"}},
		{"the default lane takes turns", []batch{{"A", 2}, {"-", 2}}, []string{"A", "-", "A", "-"}},
		{"fixes first", []batch{{"A", 2}, {"B", 1}, {"fix", 2}}, []string{"fix", "fix", "A", "B", "A"}},
		{"a lane queued again after its turn", []batch{{"A", 2}, {"B", 1}, {"A", 1}}, []string{"A", "B", "A", "A"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t, Options{})
			for _, b := range tt.queued {
				for _, j := range jobsIn(b.lane, b.n) {
					must(t, s.Enqueue(t.Context(), j))
				}
			}
			var got order
			consume(t, testWorker(t, s), "w1", func(_ context.Context, j Job) error {
				got.add(j)
				return nil
			})
			waitFor(t, "every job handled", 5*time.Second, func() bool { return len(got.get()) == len(tt.want) })
			if !slices.Equal(got.get(), tt.want) {
				t.Errorf("lanes served in the order %v, want %v", got.get(), tt.want)
			}
		})
	}
}

// TestLaneLeavesTheRingWhenDrained: once a lane has nothing left to
// deliver it leaves the ring, and its next job puts it back.
func TestLaneLeavesTheRingWhenDrained(t *testing.T) {
	ctx := t.Context()
	s, c := newStore(t, Options{})
	q := s.queue()
	var h handled
	consume(t, testWorker(t, s), "w1", func(_ context.Context, j Job) error { h.add(j); return nil })
	for round := range 2 {
		j := Job{ID: NewID(), Kind: JobDiagnose, Channel: "C0A"}
		must(t, s.Enqueue(ctx, j))
		waitFor(t, fmt.Sprintf("job %d handled", round), 5*time.Second, func() bool { return h.times(j.ID) == 1 })
		waitFor(t, "the lane out of the ring", 5*time.Second, func() bool {
			return c.LLen(ctx, q.ring).Val() == 0 && c.SCard(ctx, q.ringed).Val() == 0
		})
	}
}

// TestReplicasShareTheLanes: two replicas, each with its own client and
// three consumers, share jobs queued over several channels; each job is
// handled once, and nothing is left behind.
func TestReplicasShareTheLanes(t *testing.T) {
	ctx := t.Context()
	s1, c := newStore(t, Options{})
	c2 := redis.NewClient(&redis.Options{Addr: c.Options().Addr})
	t.Cleanup(func() { c2.Close() })
	s2 := New(c2, s1.opts)
	var h handled
	handle := func(_ context.Context, j Job) error { h.add(j); return nil }
	for i, s := range []*Store{s1, s2} {
		w := testWorker(t, s)
		for k := range 3 {
			consume(t, w, fmt.Sprintf("r%d-%d", i, k), handle)
		}
	}
	var jobs []Job
	for _, lane := range []string{"C0A", "C0B", "C0C", "-", "fix"} {
		jobs = append(jobs, jobsIn(lane, 12)...)
	}
	var wg sync.WaitGroup
	for i, j := range jobs {
		s := []*Store{s1, s2}[i%2]
		wg.Go(func() { must(t, s.Enqueue(ctx, j)) })
	}
	wg.Wait()
	waitFor(t, "every job handled", 10*time.Second, func() bool { return h.distinct() == len(jobs) })
	waitFor(t, "the queue empty", 5*time.Second, func() bool {
		n, err := s1.QueueDepth(ctx)
		return err == nil && n == 0
	})
	for _, j := range jobs {
		if n := h.times(j.ID); n != 1 {
			t.Errorf("job %s (%s) handled %d times, want once", j.ID, laneName(j), n)
		}
	}
}

// TestLaneMissingFromTheRingIsFound: jobs whose lane is not in the ring, as
// an older version queues them (in the single stream of earlier versions,
// now the default lane, ringing nothing) or after Redis evicted the ring,
// are still found and handled, by the sweep that claims abandoned jobs.
func TestLaneMissingFromTheRingIsFound(t *testing.T) {
	tests := []struct {
		name  string
		queue func(t *testing.T, s *Store, c *redis.Client, j Job)
	}{
		{"queued by an older version", func(t *testing.T, s *Store, c *redis.Client, j Job) {
			data, err := json.Marshal(j)
			must(t, err)
			must(t, c.XAdd(t.Context(), &redis.XAddArgs{Stream: s.key("jobs"), Values: []any{jobField, data}}).Err())
		}},
		{"the ring evicted", func(t *testing.T, s *Store, c *redis.Client, j Job) {
			j.Channel = "C0A"
			must(t, s.Enqueue(t.Context(), j))
			must(t, c.Del(t.Context(), s.queue().ring, s.queue().bell).Err())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newStore(t, Options{})
			j := Job{ID: NewID(), Kind: JobDiagnose, ConversationID: NewID()}
			tt.queue(t, s, c, j)
			var h handled
			consume(t, testWorker(t, s), "w1", func(_ context.Context, j Job) error { h.add(j); return nil })
			waitFor(t, "the job handled", 5*time.Second, func() bool { return h.times(j.ID) == 1 })
		})
	}
}

// TestMalformedJobIsDropped: an entry that is not a job is dropped, and the
// job behind it in its lane handled.
func TestMalformedJobIsDropped(t *testing.T) {
	ctx := t.Context()
	s, c := newStore(t, Options{})
	good := Job{ID: NewID(), Kind: JobDiagnose, Channel: "C0A"}
	lane, _ := s.laneOf(good)
	must(t, c.XAdd(ctx, &redis.XAddArgs{Stream: lane, Values: []any{jobField, "{not json"}}).Err())
	must(t, s.Enqueue(ctx, good))
	var h handled
	consume(t, testWorker(t, s), "w1", func(_ context.Context, j Job) error { h.add(j); return nil })
	waitFor(t, "the good job handled", 5*time.Second, func() bool { return h.times(good.ID) == 1 })
	waitFor(t, "the lane empty", 5*time.Second, func() bool { return c.XLen(ctx, lane).Val() == 0 })
	if n := h.distinct(); n != 1 {
		t.Errorf("%d jobs handled, want the good one only", n)
	}
}

// TestPositionUnderRoundRobin: how many jobs a new one has ahead of it.
func TestPositionUnderRoundRobin(t *testing.T) {
	busy := laneLength{lane: "busy", length: 60, pending: 16} // 44 waiting
	tests := []struct {
		name  string
		lanes []laneLength
		mine  string
		want  int64
	}{
		{"empty queue", nil, "quiet", 0},
		{"quiet channel behind a busy one", []laneLength{busy}, "quiet", 1},
		{"the busy channel itself", []laneLength{busy}, "busy", 44},
		{"one waiting in the quiet channel", []laneLength{busy, {lane: "quiet", length: 1}}, "quiet", 2 + 1},
		{"fixes go first", []laneLength{busy, {lane: "fix", length: 3}}, "quiet", 3 + 1},
		{"other lanes give what they have", []laneLength{{lane: "a", length: 2, pending: 2}, {lane: "b", length: 5}, {lane: "mine", length: 3}}, "mine", 4 + 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := position(tt.lanes, tt.mine, "fix"); got != tt.want {
				t.Errorf("position = %d, want %d", got, tt.want)
			}
		})
	}
}

// BenchmarkLoneJob measures how long a job queued while its worker is idle
// waits before it is handled: the worker blocks on the bell, not on a poll.
func BenchmarkLoneJob(b *testing.B) {
	c := redistest.New(b)
	s := New(c, Options{Prefix: redistest.KeyPrefix(b, c)})
	started := make(chan struct{})
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	w := testWorker(b, s)
	go w.Consume(ctx, group, "w1", func(context.Context, Job) error { started <- struct{}{}; return nil })
	var waited time.Duration
	for b.Loop() {
		time.Sleep(5 * time.Millisecond) // let the worker go back to waiting
		queued := time.Now()
		if err := s.Enqueue(ctx, Job{Kind: JobDiagnose, Channel: "C0LONE"}); err != nil {
			b.Fatal(err)
		}
		<-started
		waited += time.Since(queued)
	}
	b.ReportMetric(float64(waited.Microseconds())/float64(b.N), "µs-to-start")
}

// BenchmarkQueueThroughput measures how many jobs a second 16 consumers
// take and acknowledge, handling each at once, with 1000 jobs queued over
// 10 channels: what the queue itself costs each job.
func BenchmarkQueueThroughput(b *testing.B) {
	c := redistest.New(b)
	s := New(c, Options{Prefix: redistest.KeyPrefix(b, c)})
	var done sync.WaitGroup
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	w := testWorker(b, s)
	for i := range 16 {
		go w.Consume(ctx, group, fmt.Sprintf("w%d", i), func(context.Context, Job) error { done.Done(); return nil })
	}
	const jobs = 1000
	var took time.Duration
	for b.Loop() {
		done.Add(jobs)
		start := time.Now()
		for i := range jobs {
			if err := s.Enqueue(ctx, Job{Kind: JobDiagnose, Channel: fmt.Sprintf("C%d", i%10)}); err != nil {
				b.Fatal(err)
			}
		}
		done.Wait()
		took += time.Since(start)
	}
	b.ReportMetric(float64(jobs*b.N)/took.Seconds(), "jobs/s")
}
