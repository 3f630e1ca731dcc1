package conversations

import (
	"strings"
	"testing"
	"time"
)

func TestFirstSeen(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, Options{})
	steps := []struct {
		kind, key string
		want      bool
	}{
		{"event_id", "Ev0123", true},
		{"event_id", "Ev0123", false},
		{"envelope_id", "Ev0123", true},
		{"event_id", "Ev0124", true},
		{"command", "U1 C1 /cvm-login ins-abc12345 {x}*", true},
		{"command", "U1 C1 /cvm-login ins-abc12345 {x}*", false},
		{"command", strings.Repeat("long ", 1000), true},
		{"command", strings.Repeat("long ", 1000), false},
	}
	for _, st := range steps {
		got, err := s.FirstSeen(ctx, st.kind, st.key, time.Minute)
		must(t, err)
		if got != st.want {
			t.Errorf("FirstSeen(%s, %.30q) = %v, want %v", st.kind, st.key, got, st.want)
		}
	}
	if _, err := s.FirstSeen(ctx, "event_id", "Ev1", 0); err == nil {
		t.Error("FirstSeen with ttl 0 succeeded, want an error")
	}
}

func TestFirstSeenOnceAmongConcurrentCallers(t *testing.T) {
	s, _ := newStore(t, Options{})
	if n := firstOf(t, 20, func() (bool, error) { return s.FirstSeen(t.Context(), "envelope_id", "env-1", time.Minute) }); n != 1 {
		t.Errorf("%d callers saw it first, want 1", n)
	}
}
