package slackio

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// formSubmissionPayload is a view_submission as Slack sends it for a form
// with one input.
const formSubmissionPayload = `{"type":"view_submission","team":{"id":"T1"},"user":{"id":"U1"},"api_app_id":"A1",` +
	`"trigger_id":"1.2.4","view":{"id":"V1","type":"modal","callback_id":"symptom_modal","private_metadata":"conv-1",` +
	`"external_id":"ref-1","state":{"values":{"symptom":{"symptom_text":{"type":"plain_text_input","value":"Connection refused"}}}}}}`

// submissionAnswer is an acknowledgement of a view_submission, as Slack reads it.
type submissionAnswer struct {
	ResponseAction string                  `json:"response_action"`
	Errors         map[string]string       `json:"errors"`
	View           *slack.ModalViewRequest `json:"view"`
}

func TestHTTPViewSubmission(t *testing.T) {
	tests := []struct {
		name   string
		reply  ViewReply
		want   string // response_action, "" for an empty body
		detail func(t *testing.T, a submissionAnswer)
	}{
		{"close", ViewReply{}, "", nil},
		{"errors under an input", ViewReply{Errors: map[string]string{"symptom": "Paste the error."}}, "errors", func(t *testing.T, a submissionAnswer) {
			if a.Errors["symptom"] != "Paste the error." || a.View != nil {
				t.Errorf("answer %+v, want the error under symptom", a)
			}
		}},
		{"notice", ViewReply{Notice: "*Busy*: try again."}, "update", func(t *testing.T, a submissionAnswer) {
			assertNotice(t, a, "*Busy*: try again.")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{view: tt.reply}
			_, base := newSlackHTTP(t, h, HTTPOptions{})
			resp, body := do(t, slackRequest(t, base, "/slack/interactions", interactionForm(formSubmissionPayload), testSigningSecret, time.Now()))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			a := decodeAnswer(t, body)
			if a.ResponseAction != tt.want {
				t.Fatalf("response_action %q (body %q), want %q", a.ResponseAction, body, tt.want)
			}
			if tt.detail != nil {
				tt.detail(t, a)
			}
			got := h.snapshot().submits
			if len(got) != 1 || got[0].View.CallbackID != "symptom_modal" || got[0].View.PrivateMetadata != "conv-1" ||
				got[0].View.State.Values["symptom"]["symptom_text"].Value != "Connection refused" {
				t.Errorf("Submit got %+v, want the submission once", got)
			}
		})
	}
}

// decodeAnswer reads an acknowledgement body; an empty one closes the modal.
func decodeAnswer(t *testing.T, body string) submissionAnswer {
	t.Helper()
	var a submissionAnswer
	if strings.TrimSpace(body) == "" || body == "null" {
		return a
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("acknowledgement %q: %v", body, err)
	}
	return a
}

// assertNotice checks that a replaces the form with a modal that shows text
// alone, within Slack's limits.
func assertNotice(t *testing.T, a submissionAnswer, text string) {
	t.Helper()
	v := a.View
	if a.ResponseAction != "update" || v == nil || v.Type != slack.VTModal || v.Title.Text != noticeTitle || v.Close.Text != noticeClose || v.Submit != nil {
		t.Fatalf("answer %+v, want an update to a notice", a)
	}
	sections := v.Blocks.BlockSet
	if len(sections) != 1 {
		t.Fatalf("notice has %d blocks, want 1", len(sections))
	}
	if got := sections[0].(*slack.SectionBlock).Text; got.Type != slack.MarkdownType || got.Text != text {
		t.Errorf("notice text %+v, want mrkdwn %q", got, text)
	}
}

func TestHTTPViewSubmissionOnce(t *testing.T) {
	t.Run("replay closes without a second submission", func(t *testing.T) {
		h := &recordingHandler{view: ViewReply{Notice: "queued"}}
		_, base := newSlackHTTP(t, h, HTTPOptions{})
		now := time.Now()
		_, first := do(t, slackRequest(t, base, "/slack/interactions", interactionForm(formSubmissionPayload), testSigningSecret, now))
		_, again := do(t, slackRequest(t, base, "/slack/interactions", interactionForm(formSubmissionPayload), testSigningSecret, now))
		if decodeAnswer(t, first).ResponseAction != "update" || again != "" {
			t.Errorf("answers %q then %q, want the notice then an empty 200", first, again)
		}
		if n := len(h.snapshot().submits); n != 1 {
			t.Errorf("Submit called %d times, want 1", n)
		}
	})
	t.Run("replay cache down refuses with a notice", func(t *testing.T) {
		h := &recordingHandler{seenErr: errors.New("redis down")}
		_, base := newSlackHTTP(t, h, HTTPOptions{})
		_, body := do(t, slackRequest(t, base, "/slack/interactions", interactionForm(formSubmissionPayload), testSigningSecret, time.Now()))
		assertNotice(t, decodeAnswer(t, body), msgReplayUnchecked)
		if n := len(h.snapshot().submits); n != 0 {
			t.Errorf("Submit called %d times: an unchecked submission must not run", n)
		}
	})
	t.Run("forged signature", func(t *testing.T) {
		h := &recordingHandler{}
		_, base := newSlackHTTP(t, h, HTTPOptions{})
		resp, _ := do(t, slackRequest(t, base, "/slack/interactions", interactionForm(formSubmissionPayload), "not-the-secret", time.Now()))
		if resp.StatusCode != http.StatusUnauthorized || len(h.snapshot().submits) != 0 {
			t.Errorf("status %d, %d submissions: a forged submission must be refused", resp.StatusCode, len(h.snapshot().submits))
		}
	})
}

func TestSocketViewSubmission(t *testing.T) {
	h := &recordingHandler{view: ViewReply{Errors: map[string]string{"symptom": "Too long."}}}
	fake := startSocket(t, h, SocketOptions{})
	id := fake.SendEnvelope(t, "interactive", json.RawMessage(formSubmissionPayload), 0)
	ack := waitForAcks(t, fake, id, 1)[0]
	if a := decodeAnswer(t, string(ack.Payload)); a.ResponseAction != "errors" || a.Errors["symptom"] != "Too long." {
		t.Errorf("ack payload %s, want the errors", ack.Payload)
	}
	fake.SendEnvelope(t, "interactive", json.RawMessage(formSubmissionPayload), 1) // a redelivery
	if again := waitForAcks(t, fake, id, 2)[1]; again.Payload != nil {
		t.Errorf("redelivery ack payload %s, want none", again.Payload)
	}
	if n := len(h.snapshot().submits); n != 1 {
		t.Errorf("Submit called %d times, want 1", n)
	}
}

func TestNoticeViewFitsSlack(t *testing.T) {
	v := noticeView(strings.Repeat("é", 5000))
	text := v.Blocks.BlockSet[0].(*slack.SectionBlock).Text.Text
	if n := utf8.RuneCountInString(text); n != maxNoticeText || !strings.HasSuffix(text, "…") {
		t.Errorf("notice of %d characters, want %d ending in …", n, maxNoticeText)
	}
	for _, label := range []string{v.Title.Text, v.Close.Text} {
		if utf8.RuneCountInString(label) > 24 {
			t.Errorf("label %q is over Slack's 24 characters", label)
		}
	}
}
