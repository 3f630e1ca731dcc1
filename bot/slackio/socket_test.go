package slackio

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// startSocket runs a SocketClient of h against a new fake Slack until the
// test ends.
func startSocket(t *testing.T, h Handler, opts SocketOptions) *slackfake.Server {
	t.Helper()
	fake := slackfake.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- NewSocketClient(fake.Client(), h, opts).Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(drainTimeout + 5*time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return fake
}

// waitForAcks waits until fake has received n acknowledgements of envelope
// id, and returns them.
func waitForAcks(t *testing.T, fake *slackfake.Server, id string, n int) []slackfake.Ack {
	t.Helper()
	var acks []slackfake.Ack
	fake.WaitFor(t, func() bool {
		acks = acks[:0]
		for _, a := range fake.Acks() {
			if a.EnvelopeID == id {
				acks = append(acks, a)
			}
		}
		return len(acks) >= n
	}, 10*time.Second)
	return acks
}

var testSlashCommand = slack.SlashCommand{
	Command: "/cvm-login", Text: "ins-abc12345", UserID: "U1", ChannelID: "C1", TeamID: "T1",
	ResponseURL: "https://hooks.slack.com/commands/T1/1/x", TriggerID: "1.2.3",
}

func TestSocketSlashCommand(t *testing.T) {
	tests := []struct {
		name      string
		reply     Reply
		wantReply string // "" for an ack without payload
	}{
		{"reply", Reply{Text: "Diagnosing `ins-abc12345`…"}, `{"response_type":"ephemeral","text":"Diagnosing ` + "`ins-abc12345`" + `…"}`},
		{"no reply", Reply{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{reply: tt.reply}
			fake := startSocket(t, h, SocketOptions{})

			id := fake.SendEnvelope(t, "slash_commands", testSlashCommand, 0)
			if ack := waitForAcks(t, fake, id, 1)[0]; string(ack.Payload) != tt.wantReply {
				t.Errorf("ack payload = %s, want %s", ack.Payload, tt.wantReply)
			}
			if redelivered := fake.SendEnvelope(t, "slash_commands", testSlashCommand, 1); redelivered != id {
				t.Fatalf("the fake redelivered %s as %s", id, redelivered)
			}
			if again := waitForAcks(t, fake, id, 2)[1]; again.Payload != nil {
				t.Errorf("redelivery ack payload = %s, want none", again.Payload)
			}
			got := h.snapshot().commands
			if len(got) != 1 || got[0] != testSlashCommand {
				t.Errorf("Command got %+v, want once %+v", got, testSlashCommand)
			}
		})
	}
}

func TestSocketInteraction(t *testing.T) {
	h := &recordingHandler{}
	fake := startSocket(t, h, SocketOptions{})
	submitted := fake.SendEnvelope(t, "interactive", json.RawMessage(viewSubmissionPayload), 0)
	pressed := fake.SendEnvelope(t, "interactive", json.RawMessage(blockActionsPayload), 0)
	for _, id := range []string{submitted, pressed} {
		if ack := waitForAcks(t, fake, id, 1)[0]; ack.Payload != nil {
			t.Errorf("ack payload = %s, want none", ack.Payload)
		}
	}
	fake.WaitFor(t, func() bool { return len(h.snapshot().actions) == 1 }, 5*time.Second)
	if cb := h.snapshot().actions[0]; cb.Type != slack.InteractionTypeBlockActions || cb.ActionCallback.BlockActions[0].ActionID != "approve" {
		t.Errorf("Action got %+v", cb)
	}
}

func TestSocketEventRetryHandledOnce(t *testing.T) {
	h := &recordingHandler{}
	fake := startSocket(t, h, SocketOptions{})
	event := json.RawMessage(appMentionCallback("Ev7"))
	first := fake.SendEnvelope(t, "events_api", event, 0)
	retry := fake.SendEnvelope(t, "events_api", event, 1)
	waitForAcks(t, fake, first, 1)
	waitForAcks(t, fake, retry, 1)
	fake.WaitFor(t, func() bool { c := h.snapshot(); return c.seenCalls == 2 && len(c.mentions) == 1 }, 5*time.Second)

	want := Mention{EventID: "Ev7", Channel: "C1", User: "U1", Text: "<@U0CVMLOGIN> ins-abc12345",
		TS: "1700000000.000300", ThreadTS: "1700000000.000100"}
	if got := h.snapshot().mentions; got[0] != want {
		t.Errorf("Mention got %+v, want %+v", got[0], want)
	}
}

func TestSocketAcksUnknownEnvelopes(t *testing.T) {
	h := &recordingHandler{}
	fake := startSocket(t, h, SocketOptions{})
	for _, env := range []struct{ typ, payload string }{
		{"workflow_step_execute", `{"anything":true}`},
		{"events_api", `{"type":"event_callback","event_id":"Ev9","event":{"type":"no_such_event"}}`},
	} {
		id := fake.SendEnvelope(t, env.typ, json.RawMessage(env.payload), 0)
		waitForAcks(t, fake, id, 1)
	}
	if c := h.snapshot(); c.seenCalls+c.started+len(c.commands) != 0 {
		t.Errorf("Handler called for unknown envelopes: %+v", c)
	}
}

func TestSocketReconnects(t *testing.T) {
	h := &recordingHandler{}
	logger, logs := newTestLogger()
	fake := startSocket(t, h, SocketOptions{Logger: logger})
	waitForAcks(t, fake, fake.SendEnvelope(t, "slash_commands", testSlashCommand, 0), 1)

	fake.DropConnection()
	fake.WaitFor(t, func() bool { return fake.Connections() == 2 }, 10*time.Second)
	again := testSlashCommand
	again.Text = "ins-def67890"
	waitForAcks(t, fake, fake.SendEnvelope(t, "slash_commands", again, 0), 1)

	if got := h.snapshot().commands; len(got) != 2 || got[1].Text != "ins-def67890" {
		t.Errorf("Command got %+v, want both commands", got)
	}
	connected := regexp.MustCompile(`level=INFO msg="Socket Mode connected" .*connection=(\d)`).FindAllStringSubmatch(logs.String(), -1)
	if len(connected) != 2 || connected[0][1] != "0" || connected[1][1] != "1" {
		t.Errorf("want both connections logged, got %q in:\n%s", connected, logs)
	}
}

func TestLogThrottle(t *testing.T) {
	start := time.Unix(1700000000, 0)
	type step struct {
		at             time.Duration // since start
		key            string
		wantAllowed    bool
		wantSuppressed int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"each key has its own burst", []step{
			{0, "connecting", true, 0},
			{0, "connecting", true, 0},
			{0, "connected", true, 0},
			{0, "connected", true, 0},
			{0, "connected", false, 0},
		}},
		{"beyond the burst, lines are held back and counted", []step{
			{0, "connecting", true, 0},
			{time.Second, "connecting", true, 0},
			{2 * time.Second, "connecting", false, 0},
			{29 * time.Second, "connecting", false, 0},
			{31 * time.Second, "connecting", true, 2},
			{32 * time.Second, "connecting", false, 0},
			{100 * time.Second, "connecting", true, 1},
			{101 * time.Second, "connecting", true, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var now time.Time
			throttle := newLogThrottle(30*time.Second, 2, func() time.Time { return now })
			for i, s := range tt.steps {
				now = start.Add(s.at)
				allowed, suppressed := throttle.allow(s.key)
				if allowed != s.wantAllowed || suppressed != s.wantSuppressed {
					t.Errorf("step %d (%s at %s): allow = %v, %d; want %v, %d", i, s.key, s.at, allowed, suppressed, s.wantAllowed, s.wantSuppressed)
				}
			}
		})
	}
}

func TestSocketBusyStillAcknowledges(t *testing.T) {
	h := &recordingHandler{release: make(chan struct{})}
	defer close(h.release)
	fake := startSocket(t, h, SocketOptions{MaxInFlight: 1})
	waitForAcks(t, fake, fake.SendEnvelope(t, "interactive", json.RawMessage(blockActionsPayload), 0), 1)
	fake.WaitFor(t, func() bool { return h.snapshot().started == 1 }, 5*time.Second)

	ack := waitForAcks(t, fake, fake.SendEnvelope(t, "slash_commands", testSlashCommand, 0), 1)[0]
	if ack.Payload != nil {
		t.Errorf("ack payload = %s, want none", ack.Payload)
	}
	if n := len(h.snapshot().commands); n != 0 {
		t.Errorf("Command called %d times while the client was full, want 0", n)
	}
}

func TestSocketRunFailsOnInvalidAppToken(t *testing.T) {
	fake := slackfake.New(t)
	api := slack.New(slackfake.BotToken, slack.OptionAPIURL(fake.URL()), slack.OptionAppLevelToken("xapp-revoked"))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := NewSocketClient(api, &recordingHandler{}, SocketOptions{}).Run(ctx)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "invalid_auth") {
		t.Errorf("Run = %v (context %v), want invalid_auth at once", err, ctx.Err())
	}
}

// TestSocketInteractionRedeliveredOnce: Slack redelivers an interactive
// envelope whose acknowledgement it missed; the press is handled once. When
// the replay cache cannot tell, the press is refused with an answer.
func TestSocketInteractionRedeliveredOnce(t *testing.T) {
	for _, seenErr := range []error{nil, errors.New("redis down")} {
		h := &recordingHandler{seenErr: seenErr}
		fake := startSocket(t, h, SocketOptions{})
		id := fake.SendEnvelope(t, "interactive", json.RawMessage(blockActionsPayload), 0)
		fake.SendEnvelope(t, "interactive", json.RawMessage(blockActionsPayload), 1)
		waitForAcks(t, fake, id, 2)
		fake.WaitFor(t, func() bool { c := h.snapshot(); return c.seenCalls == 2 }, 5*time.Second)
		time.Sleep(50 * time.Millisecond)
		got := h.snapshot()
		if seenErr == nil && (len(got.actions) != 1 || len(got.refusals) != 0) {
			t.Errorf("handled %d times, refused %d; want once, never", len(got.actions), len(got.refusals))
		}
		if seenErr != nil && (len(got.actions) != 0 || len(got.refusals) != 2) {
			t.Errorf("cache down: handled %d times, refused %d; want never, twice", len(got.actions), len(got.refusals))
		}
	}
}
