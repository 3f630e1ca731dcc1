package conversations

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
)

func sampleConversation() Conversation {
	return Conversation{
		ID:        NewID(),
		Channel:   "C0123ABCD",
		Requester: "U0123ABCD",
		Target:    "ins-abc12345",
		Region:    "ap-guangzhou",
		Port:      2222,
		CreatedAt: time.Date(2026, 11, 28, 4, 18, 31, 123456789, time.UTC),
		Status:    ConversationRunning,
	}
}

func TestConversationRoundTrip(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, Options{})
	want := sampleConversation()
	want.ThreadTS = "1712345678.000100"
	must(t, s.CreateConversation(ctx, want))

	got, err := s.Conversation(ctx, want.ID)
	must(t, err)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Conversation() = %+v\nwant %+v", got, want)
	}
}

func TestCreateConversationFillsDefaults(t *testing.T) {
	ctx := t.Context()
	clock := newFakeClock()
	s, _ := newStore(t, Options{Now: clock.Now})
	id := NewID()
	must(t, s.CreateConversation(ctx, Conversation{ID: id}))
	got, err := s.Conversation(ctx, id)
	must(t, err)
	if got.Status != ConversationRunning || !got.CreatedAt.Equal(clock.Now()) {
		t.Errorf("got status %q created %v, want running at %v", got.Status, got.CreatedAt, clock.Now())
	}
}

func TestCreateConversationRejects(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, Options{})
	c := sampleConversation()
	must(t, s.CreateConversation(ctx, c))
	if err := s.CreateConversation(ctx, c); !errors.Is(err, ErrConflict) {
		t.Errorf("creating it twice: err = %v, want ErrConflict", err)
	}
	for _, id := range []string{"", "short", "{tag}aaaaaaaaaaaaaaaa"} {
		if err := s.CreateConversation(ctx, Conversation{ID: id}); err == nil {
			t.Errorf("CreateConversation with ID %q succeeded", id)
		}
	}
}

func TestConversationNotFound(t *testing.T) {
	ctx := t.Context()
	s, c := newStore(t, Options{})
	for _, id := range []string{NewID(), "not an id", ""} {
		if _, err := s.Conversation(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Conversation(%q): err = %v, want ErrNotFound", id, err)
		}
	}
	id := NewID()
	if err := s.SetMessage(ctx, id, "C1", "1.2", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetMessage: err = %v, want ErrNotFound", err)
	}
	if err := s.SetStatus(ctx, id, ConversationDone); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetStatus: err = %v, want ErrNotFound", err)
	}
	if n := c.Exists(ctx, s.tagged("conv", id)).Val(); n != 0 {
		t.Error("updating a missing conversation created it")
	}
}

func TestSetStatus(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, Options{})
	c := sampleConversation()
	must(t, s.CreateConversation(ctx, c))
	must(t, s.SetStatus(ctx, c.ID, ConversationDone))
	got, err := s.Conversation(ctx, c.ID)
	must(t, err)
	if got.Status != ConversationDone {
		t.Errorf("status = %q, want done", got.Status)
	}
	if err := s.SetStatus(ctx, c.ID, "approved"); err == nil {
		t.Error(`SetStatus("approved") succeeded, want an error`)
	}
}

func sampleReport(target string) *diag.Report {
	cause := diag.CheckSGLoginPort
	return &diag.Report{
		Target: target,
		Region: "ap-guangzhou",
		Findings: []diag.Finding{{
			Check: diag.CheckSGLoginPort, Status: diag.StatusFail, Severity: diag.SeverityCritical,
			Title: "Security group blocks TCP 22", Fixes: []diag.FixAction{diag.FixOpenLoginPort},
		}},
		Summary:     diag.Summary{Fail: 1},
		LikelyCause: &cause,
		StartedAt:   time.Date(2026, 11, 28, 4, 18, 31, 0, time.UTC),
		DurationMS:  412,
	}
}

func TestSaveReportReturnsThePreviousOne(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, Options{})
	id := NewID()
	if _, err := s.Report(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Report before any: err = %v, want ErrNotFound", err)
	}

	before, after := sampleReport("ins-abc12345"), sampleReport("ins-abc12345")
	after.Findings[0].Status = diag.StatusOK
	after.Summary, after.LikelyCause = diag.Summary{OK: 1}, nil

	prev, err := s.SaveReport(ctx, id, before)
	must(t, err)
	if prev != nil {
		t.Errorf("first SaveReport returned previous %+v, want nil", prev)
	}
	prev, err = s.SaveReport(ctx, id, after)
	must(t, err)
	if !reflect.DeepEqual(prev, before) {
		t.Errorf("second SaveReport returned previous %+v\nwant %+v", prev, before)
	}
	got, err := s.Report(ctx, id)
	must(t, err)
	if !reflect.DeepEqual(got, after) {
		t.Errorf("Report() = %+v\nwant %+v", got, after)
	}
}

func TestLogKeepsTheLatestEntriesInOrder(t *testing.T) {
	ctx := t.Context()
	clock := newFakeClock()
	s, _ := newStore(t, Options{LogLimit: 3, Now: clock.Now})
	id := NewID()
	empty, err := s.Log(ctx, id)
	must(t, err)
	if len(empty) != 0 {
		t.Errorf("Log of a new conversation = %v, want empty", empty)
	}
	var want []LogEntry
	for _, text := range []string{"one", "two", "three", "four", "five"} {
		clock.Advance(time.Second)
		must(t, s.AppendLog(ctx, id, LogEntry{Kind: "check", Text: text}))
		want = append(want, LogEntry{Time: clock.Now(), Kind: "check", Text: text})
	}
	got, err := s.Log(ctx, id)
	must(t, err)
	if !reflect.DeepEqual(got, want[2:]) {
		t.Errorf("Log() = %+v\nwant %+v", got, want[2:])
	}
}

func TestSetOpenPortsFix(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, Options{})
	c := sampleConversation()
	if err := s.CreateConversation(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOpenPortsFix(ctx, c.ID, "fix123"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Conversation(ctx, c.ID)
	if err != nil || got.OpenPortsFix != "fix123" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if err := s.SetOpenPortsFix(ctx, NewID(), "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown conversation: %v", err)
	}
}

// TestSetMessageRecordsTheMessageOnly: the report message is recorded on the
// conversation, and no thread index is written (nothing reads one).
func TestSetMessageRecordsTheMessageOnly(t *testing.T) {
	ctx := t.Context()
	s, c := newStore(t, Options{})
	conv := sampleConversation()
	must(t, s.CreateConversation(ctx, conv))
	must(t, s.SetMessage(ctx, conv.ID, conv.Channel, "1712345678.000200", "1712345678.000100"))
	got, err := s.Conversation(ctx, conv.ID)
	must(t, err)
	if got.MessageTS != "1712345678.000200" || got.ThreadTS != "1712345678.000100" {
		t.Errorf("got message %q thread %q", got.MessageTS, got.ThreadTS)
	}
	if keys := c.Keys(ctx, s.opts.Prefix+"thread*").Val(); len(keys) != 0 {
		t.Errorf("thread index keys %q were written", keys)
	}
}
