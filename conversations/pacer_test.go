package conversations

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// TestPacerSharesOneScheduleAcrossReplicas: two replicas (two Stores on one
// Redis) reserving at once get one schedule: a burst, then one slot per
// interval, never two callers in one slot.
func TestPacerSharesOneScheduleAcrossReplicas(t *testing.T) {
	s, rdb := newStore(t, Options{})
	other := New(rdb, s.opts)
	limit := Limit{Key: "chat.postMessage:C1", Every: time.Second, Burst: 3}
	const callers = 12
	waits := make([]time.Duration, callers)
	var wg sync.WaitGroup
	for i := range callers {
		p := s.Pacer()
		if i%2 == 1 {
			p = other.Pacer()
		}
		wg.Go(func() {
			wait, ok, err := p.Reserve(t.Context(), "T1", []Limit{limit}, -1)
			if err != nil || !ok {
				t.Errorf("reserve: ok %v, err %v", ok, err)
			}
			waits[i] = wait
		})
	}
	wg.Wait()
	slices.Sort(waits)
	for i, w := range waits {
		slot := max(i-2, 0) // the first three go at once
		if want := time.Duration(slot) * time.Second; w < want-50*time.Millisecond || w > want+50*time.Millisecond {
			t.Errorf("caller %d waits %v, want about %v (all: %v)", i, w, want, waits)
		}
	}
}

// TestPacerDropsWhatCannotWait: a caller that accepts no wait books nothing
// once the burst is spent, so the callers that must go are not delayed.
func TestPacerDropsWhatCannotWait(t *testing.T) {
	s, _ := newStore(t, Options{})
	p := s.Pacer()
	update := Limit{Key: "chat.update", Every: time.Second, Burst: 2}
	for range 2 {
		if _, ok, err := p.Reserve(t.Context(), "T1", []Limit{update}, 0); !ok || err != nil {
			t.Fatalf("within the burst: ok %v, err %v", ok, err)
		}
	}
	if wait, ok, _ := p.Reserve(t.Context(), "T1", []Limit{update}, 0); ok {
		t.Fatalf("a progress update beyond the burst was booked (wait %v)", wait)
	}
	if wait, _, _ := p.Reserve(t.Context(), "T1", []Limit{update}, -1); wait > 1100*time.Millisecond {
		t.Fatalf("the dropped update delayed the next call to %v", wait)
	}
}

// TestPacerBusyChannelDoesNotHoldTheWorkspace: posts book both their
// channel and the workspace; a busy channel's callers, booking no further
// ahead than they accept, do not delay another channel.
func TestPacerBusyChannelDoesNotHoldTheWorkspace(t *testing.T) {
	s, _ := newStore(t, Options{})
	p := s.Pacer()
	workspace := Limit{Key: "chat.postMessage", Every: 100 * time.Millisecond, Burst: 20}
	busy := Limit{Key: "chat.postMessage:C1", Every: time.Second, Burst: 1}
	quiet := Limit{Key: "chat.postMessage:C2", Every: time.Second, Burst: 1}
	booked := 0
	for range 5 {
		wait, ok, err := p.Reserve(t.Context(), "T1", []Limit{workspace, busy}, 1100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			booked++
		} else if wait < 1500*time.Millisecond {
			t.Errorf("a refused booking says wait %v, want the busy channel's backlog", wait)
		}
	}
	if booked != 2 {
		t.Errorf("%d of 5 busy-channel calls booked, want the 2 within the horizon", booked)
	}
	if wait, _, _ := p.Reserve(t.Context(), "T1", []Limit{workspace, quiet}, -1); wait > 100*time.Millisecond {
		t.Errorf("the quiet channel waits %v behind the busy one", wait)
	}
}

// TestPacerHoldsOffAfterRetryAfter: a 429's Retry-After holds every replica
// off that long.
func TestPacerHoldsOffAfterRetryAfter(t *testing.T) {
	s, _ := newStore(t, Options{})
	p := s.Pacer()
	update := Limit{Key: "chat.update", Every: 100 * time.Millisecond, Burst: 5}
	if err := p.HoldOff(t.Context(), "T1", update, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	wait, _, err := p.Reserve(t.Context(), "T1", []Limit{update}, -1)
	if err != nil || wait < 2900*time.Millisecond {
		t.Fatalf("wait %v after a 3s Retry-After (err %v)", wait, err)
	}
}
