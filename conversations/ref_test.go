package conversations

import (
	"errors"
	"strings"
	"testing"
)

func TestRefRoundTrip(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, Options{})
	want := Ref{Action: "approve", ConversationID: NewID(), Channel: "C0123ABCD", FixRequestID: NewID()}
	id, err := s.CreateRef(ctx, want)
	must(t, err)
	if !validID(id) || strings.Contains(id, want.ConversationID) {
		t.Errorf("CreateRef() = %q, want a fresh opaque ID", id)
	}
	got, err := s.ResolveRef(ctx, id)
	must(t, err)
	if got != want {
		t.Errorf("ResolveRef() = %+v, want %+v", got, want)
	}
	other, err := s.CreateRef(ctx, want)
	must(t, err)
	if other == id {
		t.Error("two CreateRef calls returned the same ID")
	}
	if _, err := s.CreateRef(ctx, Ref{ConversationID: want.ConversationID}); err == nil {
		t.Error("CreateRef without an action succeeded")
	}
}

func TestResolveRefRejectsUnknownAndForgedValues(t *testing.T) {
	live, _ := newStore(t, Options{})
	id, err := live.CreateRef(t.Context(), Ref{Action: "rediagnose"})
	must(t, err)
	tests := []struct{ name, value string }{
		{"unknown", NewID()},
		{"tampered", id[:len(id)-1] + flip(id[len(id)-1])},
		{"empty", ""},
		{"instance ID", "ins-abc12345"},
		{"command", "/cvm-login ins-abc12345"},
		{"hash tag", "{" + id + "}"},
		{"glob", id[:20] + "*"},
		{"2000 characters", strings.Repeat("a", 2000)},
		{"JSON", `{"action":"open_all_ports"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := live.ResolveRef(t.Context(), tt.value); !errors.Is(err, ErrNotFound) {
				t.Errorf("ResolveRef(%.40q): err = %v, want ErrNotFound", tt.value, err)
			}
		})
	}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestResolveRefChecksTheFormatBeforeRedis(t *testing.T) {
	dead := deadStore(t)
	_, err := dead.ResolveRef(t.Context(), strings.Repeat("x", 2000))
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v, want ErrNotFound without asking Redis", err)
	}
}
