package slackfake_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// form is a valid modal with one multi-line input of at most 100 characters.
func form() slack.ModalViewRequest {
	input := slack.NewPlainTextInputBlockElement(nil, "text")
	input.Multiline, input.MaxLength = true, 100
	return slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: "form", PrivateMetadata: "meta", ExternalID: "ext-1",
		Title:  slack.NewTextBlockObject(slack.PlainTextType, "A form", false, false),
		Submit: slack.NewTextBlockObject(slack.PlainTextType, "Send", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "Say *something*", false, false), nil, nil),
			slack.NewInputBlock("say", slack.NewTextBlockObject(slack.PlainTextType, "Something", false, false), nil, input),
		}},
	}
}

func TestOpenView(t *testing.T) {
	fake := slackfake.New(t)
	api := fake.Client()
	trigger := fake.Trigger()
	resp, err := api.OpenViewContext(t.Context(), trigger, form())
	if err != nil {
		t.Fatalf("views.open: %v", err)
	}
	views := fake.Views()
	if len(views) != 1 {
		t.Fatalf("%d views recorded, want 1", len(views))
	}
	v := views[0]
	if resp.View.ID != v.ID || resp.View.CallbackID != "form" || resp.View.PrivateMetadata != "meta" || resp.View.ExternalID != "ext-1" {
		t.Errorf("views.open answered %+v, recorded %+v", resp.View, v)
	}
	if in := v.Inputs["say"]; in.ActionID != "text" || !in.Multiline || in.MaxLength != 100 || in.Optional || v.TriggerID != trigger || v.Title != "A form" {
		t.Errorf("recorded %+v", v)
	}

	for name, tc := range map[string]struct {
		trigger string
		view    slack.ModalViewRequest
		want    string
	}{
		"a trigger works once":        {trigger, withExternalID(form(), "ext-2"), "exchanged_trigger_id"},
		"a trigger Slack never gave":  {"1.2.3", form(), "invalid_trigger_id"},
		"external_id taken":           {fake.Trigger(), form(), "duplicate_external_id"},
		"an invalid view keeps no ID": {fake.Trigger(), func() slack.ModalViewRequest { v := form(); v.Title = nil; return v }(), "invalid_arguments"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := api.OpenViewContext(t.Context(), tc.trigger, tc.view); err == nil || err.Error() != tc.want {
				t.Errorf("views.open error %v, want %s", err, tc.want)
			}
		})
	}
	late := fake.Trigger()
	fake.ExpireTriggers()
	if _, err := api.OpenViewContext(t.Context(), late, withExternalID(form(), "ext-3")); err == nil || err.Error() != "expired_trigger_id" {
		t.Errorf("views.open after %s: %v, want expired_trigger_id", slackfake.TriggerLifetime, err)
	}
	if n := len(fake.Views()); n != 1 {
		t.Errorf("%d views after refusals, want 1", n)
	}
}

func withExternalID(v slack.ModalViewRequest, id string) slack.ModalViewRequest {
	v.ExternalID = id
	return v
}

func TestOpenViewChecksTheView(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	text := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
	}
	input := func(edit func(*slack.InputBlock, *slack.PlainTextInputBlockElement)) func(*slack.ModalViewRequest) {
		return func(v *slack.ModalViewRequest) {
			b := v.Blocks.BlockSet[1].(*slack.InputBlock)
			edit(b, b.Element.(*slack.PlainTextInputBlockElement))
		}
	}
	tests := []struct {
		name string
		edit func(*slack.ModalViewRequest)
		want string // in response_metadata; "" for a valid view
	}{
		{"valid at the limits", func(v *slack.ModalViewRequest) {
			v.Title, v.Submit, v.Close = text(long(24)), text(long(24)), text(long(24))
			v.PrivateMetadata, v.CallbackID = long(3000), long(255)
		}, ""},
		{"not a modal", func(v *slack.ModalViewRequest) { v.Type = slack.VTHomeTab }, "opens modals"},
		{"title of 25", func(v *slack.ModalViewRequest) { v.Title = text(long(25)) }, "title must have 1 to 24"},
		{"mrkdwn title", func(v *slack.ModalViewRequest) {
			v.Title = slack.NewTextBlockObject(slack.MarkdownType, "x", false, false)
		}, "plain_text"},
		{"submit of 25", func(v *slack.ModalViewRequest) { v.Submit = text(long(25)) }, "submit must have 1 to 24"},
		{"inputs without submit", func(v *slack.ModalViewRequest) { v.Submit = nil }, "needs a submit"},
		{"private_metadata of 3001", func(v *slack.ModalViewRequest) { v.PrivateMetadata = long(3001) }, "private_metadata"},
		{"callback_id of 256", func(v *slack.ModalViewRequest) { v.CallbackID = long(256) }, "callback_id"},
		{"block_id of 256", input(func(b *slack.InputBlock, _ *slack.PlainTextInputBlockElement) { b.BlockID = long(256) }), "block_id longer"},
		{"action_id of 256", input(func(_ *slack.InputBlock, e *slack.PlainTextInputBlockElement) { e.ActionID = long(256) }), "action_id"},
		{"max_length of 3001", input(func(_ *slack.InputBlock, e *slack.PlainTextInputBlockElement) { e.MaxLength = 3001 }), "max_length"},
		{"initial value over max_length", input(func(_ *slack.InputBlock, e *slack.PlainTextInputBlockElement) { e.InitialValue = long(101) }), "initial_value"},
		{"input without label", input(func(b *slack.InputBlock, _ *slack.PlainTextInputBlockElement) { b.Label = nil }), "label"},
		{"duplicate block_id", func(v *slack.ModalViewRequest) {
			// slack-go refuses two inputs with one block_id itself, not a section and an input
			again := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "again", false, false), nil, nil, slack.SectionBlockOptionBlockID("say"))
			v.Blocks.BlockSet = append(v.Blocks.BlockSet, again)
		}, "duplicate block_id"},
		{"101 blocks", func(v *slack.ModalViewRequest) {
			for range 99 {
				v.Blocks.BlockSet = append(v.Blocks.BlockSet, slack.NewDividerBlock())
			}
		}, "blocks has 101"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := slackfake.New(t)
			v := form()
			v.ExternalID = fmt.Sprint("ext-", i)
			tt.edit(&v)
			_, err := fake.Client().OpenViewContext(t.Context(), fake.Trigger(), v)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("views.open: %v", err)
				}
				return
			}
			var slackErr slack.SlackErrorResponse
			if !errors.As(err, &slackErr) || slackErr.Err != "invalid_arguments" || !strings.Contains(strings.Join(slackErr.ResponseMetadata.Messages, " "), tt.want) {
				t.Errorf("views.open error %#v, want invalid_arguments saying %q", err, tt.want)
			}
		})
	}
}

// opened opens form() on fake and returns its view ID.
func opened(t *testing.T, fake *slackfake.Server) string {
	t.Helper()
	resp, err := fake.Client().OpenViewContext(t.Context(), fake.Trigger(), form())
	if err != nil {
		t.Fatalf("views.open: %v", err)
	}
	return resp.View.ID
}

func TestSubmitAndAnswerView(t *testing.T) {
	fake := slackfake.New(t)
	id := opened(t, fake)
	payload, err := json.Marshal(fake.SubmitView(t, id, "U1", map[string]string{"say": "hello"}))
	if err != nil {
		t.Fatal(err)
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal(payload, &cb); err != nil {
		t.Fatalf("slack-go cannot read the submission: %v", err)
	}
	if cb.Type != slack.InteractionTypeViewSubmission || cb.User.ID != "U1" || cb.View.ID != id || cb.View.CallbackID != "form" ||
		cb.View.PrivateMetadata != "meta" || cb.View.ExternalID != "ext-1" || cb.View.State.Values["say"]["text"].Value != "hello" || cb.TriggerID == "" {
		t.Errorf("submission read back as %+v", cb)
	}

	if v := fake.AnswerView(t, id, []byte(`{"response_action":"errors","errors":{"say":"Say more."}}`)); v.Closed || v.Errors["say"] != "Say more." {
		t.Errorf("after errors: %+v", v)
	}
	update := `{"response_action":"update","view":{"type":"modal","title":{"type":"plain_text","text":"Done"},` +
		`"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"Thanks"}}]}}`
	if v := fake.AnswerView(t, id, []byte(update)); v.Closed || v.Title != "Done" || v.Updates != 1 || len(v.Inputs) != 0 || v.ID != id {
		t.Errorf("after update: %+v", v)
	}
	if v := fake.AnswerView(t, id, nil); !v.Closed {
		t.Errorf("an empty answer left %+v open", v)
	}
}

func TestSubmitAndAnswerViewRefuseWhatSlackWould(t *testing.T) {
	tests := []struct {
		name string
		do   func(tb testing.TB, fake *slackfake.Server, id string)
		want string
	}{
		{"required input empty", func(tb testing.TB, fake *slackfake.Server, id string) {
			fake.SubmitView(tb, id, "U1", nil)
		}, "is required"},
		{"over max_length", func(tb testing.TB, fake *slackfake.Server, id string) {
			fake.SubmitView(tb, id, "U1", map[string]string{"say": strings.Repeat("x", 101)})
		}, "at most 100"},
		{"a block that is not an input", func(tb testing.TB, fake *slackfake.Server, id string) {
			fake.SubmitView(tb, id, "U1", map[string]string{"say": "x", "other": "y"})
		}, `no input block "other"`},
		{"errors under a block that is not an input", func(tb testing.TB, fake *slackfake.Server, id string) {
			fake.AnswerView(tb, id, []byte(`{"response_action":"errors","errors":{"intro":"no"}}`))
		}, "not an input block"},
		{"update with an invalid view", func(tb testing.TB, fake *slackfake.Server, id string) {
			fake.AnswerView(tb, id, []byte(`{"response_action":"update","view":{"type":"modal"}}`))
		}, "title is required"},
		{"submitting a closed view", func(tb testing.TB, fake *slackfake.Server, id string) {
			fake.AnswerView(tb, id, nil)
			fake.SubmitView(tb, id, "U1", map[string]string{"say": "x"})
		}, "no open view"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := slackfake.New(t)
			id := opened(t, fake)
			if got := fatalOf(t, func(tb testing.TB) { tt.do(tb, fake, id) }); !strings.Contains(got, tt.want) {
				t.Errorf("failed with %q, want %q", got, tt.want)
			}
		})
	}
}

// fatalTB is a testing.TB whose Fatalf records its message and ends the
// goroutine, so that a test can check how the fake fails its caller.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalOf runs do with a fatalTB and returns the message it failed with, or "".
func fatalOf(t *testing.T, do func(tb testing.TB)) string {
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		do(tb)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not return")
	}
	return tb.msg
}

func TestSendEnvelopeGivesTriggers(t *testing.T) {
	fake := slackfake.New(t)
	conn := dialSocket(t, fake)
	defer conn.Close()
	var hello struct{ Type string }
	if err := conn.ReadJSON(&hello); err != nil {
		t.Fatal(err)
	}
	read := func() map[string]any {
		var env struct {
			Payload map[string]any `json:"payload"`
		}
		if err := conn.ReadJSON(&env); err != nil {
			t.Fatal(err)
		}
		return env.Payload
	}
	press := map[string]any{"type": "block_actions", "user": map[string]any{"id": "U1"}}
	fake.SendEnvelope(t, "interactive", press, 0)
	first := read()
	fake.SendEnvelope(t, "interactive", press, 1)
	if again := read(); again["trigger_id"] != first["trigger_id"] {
		t.Errorf("a redelivery carries trigger_id %v, the original %v", again["trigger_id"], first["trigger_id"])
	}
	fake.SendEnvelope(t, "events_api", map[string]any{"type": "event_callback"}, 0)
	if event := read(); event["trigger_id"] != nil {
		t.Errorf("an event carries a trigger_id: %v", event)
	}
	trigger, _ := first["trigger_id"].(string)
	if _, err := fake.Client().OpenViewContext(t.Context(), trigger, form()); err != nil {
		t.Errorf("views.open with the press's trigger_id: %v", err)
	}
}
