package conversations

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestAuditEventsInOrderAndFiltered(t *testing.T) {
	ctx := t.Context()
	clock := newFakeClock()
	s, c := newStore(t, Options{Now: clock.Now})
	var all, onA []Event
	// More than a page, so that reading back crosses page boundaries.
	for i := range auditPage + 123 {
		clock.Advance(time.Second)
		e := Event{
			Actor:      "U0123ABCD",
			Action:     "fix.approved",
			InstanceID: []string{"ins-aaaaaaaa", "ins-bbbbbbbb"}[i%2],
			Region:     "ap-guangzhou",
			Params:     map[string]string{"n": fmt.Sprint(i)},
			Result:     "ok",
			RequestID:  "req-" + fmt.Sprint(i),
		}
		must(t, s.Audit(ctx, e))
		e.Time = clock.Now()
		all = append(all, e)
		if e.InstanceID == "ins-aaaaaaaa" {
			onA = append(onA, e)
		}
	}

	got, err := s.AuditEvents(ctx, time.Time{}, "")
	must(t, err)
	if !reflect.DeepEqual(got, all) {
		t.Errorf("AuditEvents(all) returned %d events, want the %d appended, in order", len(got), len(all))
	}
	got, err = s.AuditEvents(ctx, time.Now().Add(-time.Hour), "ins-aaaaaaaa")
	must(t, err)
	if !reflect.DeepEqual(got, onA) {
		t.Errorf("AuditEvents(ins-aaaaaaaa) returned %d events, want its %d", len(got), len(onA))
	}
	got, err = s.AuditEvents(ctx, time.Now().Add(time.Hour), "")
	must(t, err)
	if len(got) != 0 {
		t.Errorf("AuditEvents(since an hour ahead) returned %d events, want none", len(got))
	}
	if ttl := c.PTTL(ctx, s.key("audit")).Val(); ttl < 89*24*time.Hour {
		t.Errorf("audit stream TTL = %v, want the 90-day retention", ttl)
	}
}

// Trimming is approximate: Redis drops whole nodes of 100 entries, so the
// bounds below are loose.

func TestAuditTrimsByLength(t *testing.T) {
	ctx := t.Context()
	s, c := newStore(t, Options{AuditMaxLen: 10})
	for range 250 {
		must(t, s.Audit(ctx, Event{Action: "diagnose"}))
	}
	if n := c.XLen(ctx, s.key("audit")).Val(); n < 10 || n > 150 {
		t.Errorf("stream length after 250 events capped at ~10 = %d, want 10 to 150", n)
	}
}

func TestAuditTrimsByAge(t *testing.T) {
	ctx := t.Context()
	s, c := newStore(t, Options{})
	for range 250 {
		must(t, s.Audit(ctx, Event{Action: "diagnose"}))
	}
	later := New(c, Options{Prefix: s.opts.Prefix, Now: func() time.Time { return time.Now().Add(91 * 24 * time.Hour) }})
	must(t, later.Audit(ctx, Event{Action: "diagnose"}))
	if n := c.XLen(ctx, s.key("audit")).Val(); n > 100 {
		t.Errorf("stream length after an event 91 days later = %d, want the old nodes dropped (at most 100)", n)
	}
}
