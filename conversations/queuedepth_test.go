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
	want := func(what string, got int64, err error, want int64) {
		t.Helper()
		if err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", what, got, err, want)
		}
	}
	n, err := s.QueueDepth(ctx)
	want("QueueDepth", n, err, 7)
	n, err = s.QueuePosition(ctx, "C0BUSY")
	want("QueuePosition in the busy channel", n, err, 5+2)
	n, err = s.QueuePosition(ctx, "C0QUIET")
	want("QueuePosition in a quiet channel", n, err, 1+1)
	must(t, s.Enqueue(ctx, Job{Kind: JobFix}))
	n, err = s.QueuePosition(ctx, "C0QUIET")
	want("QueuePosition in a quiet channel behind a fix", n, err, 1+1+1)
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
