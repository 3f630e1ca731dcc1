package conversations

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testAccount = "ak-0123456789abcdef"
	testAction  = "DescribeInstances"
)

// reserveMany reserves n slots of budget perSecond concurrently, each
// allowed to wait up to maxWait, and returns the granted ones.
func reserveMany(t *testing.T, l *RateLimiter, n, perSecond int, maxWait time.Duration) []slot {
	t.Helper()
	var (
		mu    sync.Mutex
		slots []slot
		wg    sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			s, granted, err := l.reserve(t.Context(), l.key(testAccount, testAction), perSecond, maxWait)
			if err != nil {
				t.Error(err)
			}
			if granted {
				mu.Lock()
				slots = append(slots, s)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return slots
}

func TestRateLimiterGrantsAtMostTheBudgetInEachSecond(t *testing.T) {
	s, _ := newStore(t, Options{})
	l := s.RateLimiter(RateLimiterOptions{Budgets: map[string]int{testAction: 3}})

	slots := reserveMany(t, l, 10, 3, time.Minute)
	if len(slots) != 10 {
		t.Fatalf("%d of 10 calls granted, want all: each can wait for a later second", len(slots))
	}
	perSecond := map[int64]int{}
	var first, last int64
	for i, sl := range slots {
		perSecond[sl.second]++
		if i == 0 || sl.second < first {
			first = sl.second
		}
		last = max(last, sl.second)
		if sl.wait < 0 || sl.wait > 5*time.Second {
			t.Errorf("slot in second %d: wait %v", sl.second, sl.wait)
		}
	}
	for sec, n := range perSecond {
		if n > 3 {
			t.Errorf("second %d: %d calls granted, budget 3", sec, n)
		}
	}
	if last-first != 3 {
		t.Errorf("calls granted over seconds %d..%d, want 4 consecutive seconds (3+3+3+1)", first, last)
	}
}

func TestRateLimiterRefusesWhatCannotBeGrantedBeforeTheDeadline(t *testing.T) {
	s, _ := newStore(t, Options{})
	l := s.RateLimiter(RateLimiterOptions{Budgets: map[string]int{testAction: 2}})

	// Within 900ms at most this second's and the next second's budgets are
	// in reach: 2 to 4 of 6 calls, depending on where in the second we are.
	slots := reserveMany(t, l, 6, 2, 900*time.Millisecond)
	if n := len(slots); n < 2 || n > 4 {
		t.Errorf("%d of 6 calls granted, want 2 to 4", n)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx, testAccount, testAction); !errors.Is(err, ErrNoRateSlot) {
		t.Errorf("Wait with 10ms to go = %v, want ErrNoRateSlot", err)
	}
}

func TestRateLimiterKeysAreTaggedPerAccountAndAction(t *testing.T) {
	l := New(nil, Options{Prefix: "p:"}).RateLimiter(RateLimiterOptions{}) // builds keys only
	key := l.key(testAccount, testAction)
	if want := "p:ratelimit:{" + testAccount + "/" + testAction + "}"; key != want {
		t.Errorf("key %q, want %q", key, want)
	}
	if other := l.key("ak-other", testAction); other == key {
		t.Errorf("two accounts share key %q", key)
	}
	if k := l.key("a}b{", testAction); strings.Count(k, "{") != 1 || strings.Count(k, "}") != 1 {
		t.Errorf("key %q: braces in an account break its hash tag", k)
	}
}

func TestRateLimiterWithoutBudgetRefuses(t *testing.T) {
	s, _ := newStore(t, Options{})
	l := s.RateLimiter(RateLimiterOptions{Budgets: map[string]int{testAction: 2}})
	if err := l.Wait(t.Context(), testAccount, "DescribeEverything"); err == nil {
		t.Error("Wait for an action without a budget succeeded")
	}
}

func TestRateLimiterFallsBackToAProcessBudgetWhenRedisFails(t *testing.T) {
	l := deadStore(t).RateLimiter(RateLimiterOptions{Budgets: map[string]int{testAction: 4}, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for range 2 {
		if err := l.Wait(ctx, testAccount, testAction); err != nil {
			t.Fatalf("Wait with Redis down = %v, want the local budget's slot", err)
		}
	}
	if !l.degraded.Load() {
		t.Error("not marked degraded")
	}
	// The local budget (4/s, burst 2) has no third slot within 10ms.
	short, cancelShort := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancelShort()
	if err := l.Wait(short, testAccount, testAction); !errors.Is(err, ErrNoRateSlot) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second Wait = %v, want no slot", err)
	}
}
