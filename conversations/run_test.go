package conversations

import (
	"sync"
	"testing"
	"time"
)

const instanceKey = "ap-guangzhou/ins-abc12345"

func TestOneOfConcurrentAcquirersRuns(t *testing.T) {
	s, _ := newStore(t, Options{})
	const callers = 20
	type result struct {
		id, owner string
		acquired  bool
	}
	results := make([]result, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			id := NewID()
			<-start
			owner, acquired, err := s.AcquireRun(t.Context(), instanceKey, id, time.Minute)
			if err != nil {
				t.Error(err)
			}
			results[i] = result{id, owner, acquired}
		})
	}
	close(start)
	wg.Wait()

	var winner string
	for _, r := range results {
		if r.acquired {
			if winner != "" {
				t.Fatalf("both %s and %s acquired the run", winner, r.id)
			}
			winner = r.id
		}
	}
	if winner == "" {
		t.Fatal("no caller acquired the run")
	}
	for _, r := range results {
		if r.owner != winner {
			t.Errorf("caller %s was told the owner is %q, want %s", r.id, r.owner, winner)
		}
	}
}

func TestReleaseRunOnlyByItsOwner(t *testing.T) {
	ctx := t.Context()
	s, c := newStore(t, Options{})
	owner, other := NewID(), NewID()
	if _, acquired, err := s.AcquireRun(ctx, instanceKey, owner, time.Minute); err != nil || !acquired {
		t.Fatalf("AcquireRun = %v, %v; want acquired", acquired, err)
	}

	must(t, s.ReleaseRun(ctx, instanceKey, other))
	if got, acquired, err := s.AcquireRun(ctx, instanceKey, other, time.Minute); err != nil || acquired || got != owner {
		t.Fatalf("after a release by a non-owner: AcquireRun = %q, %v, %v; want held by %s", got, acquired, err, owner)
	}

	c.PExpire(ctx, s.runKey(instanceKey), time.Second)
	if _, acquired, err := s.AcquireRun(ctx, instanceKey, owner, time.Minute); err != nil || !acquired {
		t.Fatalf("the owner re-acquiring: %v, %v; want acquired", acquired, err)
	}
	if ttl := c.PTTL(ctx, s.runKey(instanceKey)).Val(); ttl < 50*time.Second {
		t.Errorf("TTL after re-acquiring = %v, want renewed to a minute", ttl)
	}

	must(t, s.ReleaseRun(ctx, instanceKey, owner))
	if got, acquired, err := s.AcquireRun(ctx, instanceKey, other, time.Minute); err != nil || !acquired || got != other {
		t.Errorf("after the owner's release: AcquireRun = %q, %v, %v; want acquired by %s", got, acquired, err, other)
	}
}

func TestAcquireRunRejectsBadArguments(t *testing.T) {
	s, _ := newStore(t, Options{})
	if _, _, err := s.AcquireRun(t.Context(), instanceKey, "", time.Minute); err == nil {
		t.Error("AcquireRun without a conversation ID succeeded")
	}
	if _, _, err := s.AcquireRun(t.Context(), instanceKey, NewID(), 0); err == nil {
		t.Error("AcquireRun with ttl 0 succeeded")
	}
}
