package conversations

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestQueueDepthCountsQueuedAndRunningJobs sees the depth grow as jobs are
// queued, hold while one is being handled, and fall once it is done.
func TestQueueDepthCountsQueuedAndRunningJobs(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, Options{})
	depth := func() int64 {
		t.Helper()
		n, err := s.QueueDepth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := depth(); n != 0 {
		t.Fatalf("depth of a queue never used = %d, want 0", n)
	}
	for range 2 {
		must(t, s.Enqueue(ctx, Job{Kind: JobDiagnose, ConversationID: NewID(), Target: "ins-abc12345"}))
	}
	if n := depth(); n != 2 {
		t.Fatalf("depth after two jobs = %d, want 2", n)
	}

	started, release := make(chan struct{}, 2), make(chan struct{})
	w := s.Worker(WorkerOptions{Block: 50 * time.Millisecond, Logger: testLogger(t)})
	stop := consume(t, w, "w1", func(ctx context.Context, _ Job) error {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("no job was handed to the worker")
	}
	if n := depth(); n != 2 {
		t.Errorf("depth while one job runs and one waits = %d, want 2", n)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for depth() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("depth still %d after both jobs were handled", depth())
		}
		<-time.After(10 * time.Millisecond)
	}
	stop()
}

// TestQueuePositionCountsTurns: a busy channel's backlog counts in full
// for its own next job, but for one turn only for another channel's.
func TestQueuePositionCountsTurns(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, Options{})
	for _, j := range append(jobsIn("C0BUSY", 5), jobsIn("-", 2)...) {
		must(t, s.Enqueue(ctx, j))
	}
	started := make(chan struct{}, 10)
	stop := consume(t, testWorker(t, s), "w1", func(ctx context.Context, _ Job) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	<-started // one of C0BUSY's, running: not counted
	defer stop()
	tests := []struct {
		channel string
		fix     bool // queue a fix first
		want    int64
	}{
		{"C0BUSY", false, 4 + 2},
		{"C0QUIET", false, 1 + 1},
		{"", false, 2 + 3},
		{"C0QUIET", true, 1 + 1 + 1},
	}
	for _, tt := range tests {
		if tt.fix {
			must(t, s.Enqueue(ctx, Job{Kind: JobFix}))
		}
		if ahead, err := s.QueuePosition(ctx, tt.channel); err != nil || ahead != tt.want {
			t.Errorf("QueuePosition(%q) = %d, %v; want %d", tt.channel, ahead, err, tt.want)
		}
	}
	if n, err := s.QueueDepth(ctx); err != nil || n != 8 {
		t.Errorf("QueueDepth = %d, %v; want 8", n, err)
	}
}

func TestQueueDepthFailsWithoutRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	if _, err := New(rdb, Options{}).QueueDepth(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("QueueDepth without Redis: %v, want ErrUnavailable", err)
	}
	if _, err := New(rdb, Options{}).QueuePosition(t.Context(), "C0A"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("QueuePosition without Redis: %v, want ErrUnavailable", err)
	}
}
