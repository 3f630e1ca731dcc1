package slackfake_test

import (
	"errors"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// TestEnforceLimits: over Slack's limits the fake answers 429 with a
// Retry-After and posts nothing; other channels and methods are unaffected.
func TestEnforceLimits(t *testing.T) {
	fake := slackfake.New(t)
	api := fake.Client()
	post := func(channel string) error {
		_, _, err := api.PostMessageContext(t.Context(), channel, slack.MsgOptionText("hi", false))
		return err
	}
	for range 5 {
		if err := post("C1"); err != nil {
			t.Fatalf("limits not enforced yet: %v", err)
		}
	}
	fake.EnforceLimits(slackfake.Limits{ChannelPostEvery: time.Minute, ChannelPostBurst: 2, PerMinute: map[string]int{"chat.update": 1}})
	for i := range 2 {
		if err := post("C2"); err != nil {
			t.Fatalf("post %d within the burst: %v", i, err)
		}
	}
	var rl *slack.RateLimitedError
	if err := post("C2"); !errors.As(err, &rl) || rl.RetryAfter < 50*time.Second {
		t.Fatalf("post beyond the burst: %v, want 429 with Retry-After about 60s", err)
	}
	if err := post("C3"); err != nil {
		t.Fatalf("another channel is limited too: %v", err)
	}
	if n := len(fake.Messages("C2")); n != 2 {
		t.Fatalf("%d messages in C2, want the 2 allowed", n)
	}
	ts := fake.Messages("C3")[0].TS
	if _, _, _, err := api.UpdateMessageContext(t.Context(), "C3", ts, slack.MsgOptionText("a", false)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.UpdateMessageContext(t.Context(), "C3", ts, slack.MsgOptionText("b", false)); !errors.As(err, &rl) {
		t.Fatalf("second chat.update in a minute at 1 per minute: %v, want 429", err)
	}
	if fake.Throttled("chat.postMessage") != 1 || fake.Throttled("chat.update") != 1 {
		t.Fatalf("Throttled = %d posts, %d updates, want 1 and 1", fake.Throttled("chat.postMessage"), fake.Throttled("chat.update"))
	}
}

// TestFailAfterEffect: the call takes effect, then answers HTTP 500.
func TestFailAfterEffect(t *testing.T) {
	fake := slackfake.New(t)
	fake.FailAfterEffect("chat.postMessage", 500, 1)
	_, _, err := fake.Client().PostMessageContext(t.Context(), "C1", slack.MsgOptionText("hi", false))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != 500 {
		t.Fatalf("err = %v, want HTTP 500", err)
	}
	if n := len(fake.Messages("C1")); n != 1 {
		t.Fatalf("%d messages posted, want the 1 that took effect", n)
	}
}

// TestHistoryFindsMessagesByMetadata: conversations.history and
// .replies return the bot's messages with their metadata.
func TestHistoryFindsMessagesByMetadata(t *testing.T) {
	fake := slackfake.New(t)
	api := fake.Client()
	meta := slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "cvmlogin_report", EventPayload: map[string]any{"diag_id": "d1"}})
	_, parent, err := api.PostMessageContext(t.Context(), "C1", slack.MsgOptionText("report", false), meta)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessageContext(t.Context(), "C1", slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent), meta); err != nil {
		t.Fatal(err)
	}
	history, err := api.GetConversationHistoryContext(t.Context(), &slack.GetConversationHistoryParameters{ChannelID: "C1", IncludeAllMetadata: true})
	if err != nil || len(history.Messages) != 1 || history.Messages[0].Metadata.EventPayload["diag_id"] != "d1" {
		t.Fatalf("history = %+v, %v; want the one top-level message with its metadata", history, err)
	}
	replies, _, _, err := api.GetConversationRepliesContext(t.Context(), &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parent})
	if err != nil || len(replies) != 2 || replies[1].Metadata.EventType != "cvmlogin_report" {
		t.Fatalf("replies = %+v, %v; want the parent and its reply with metadata", replies, err)
	}
}
