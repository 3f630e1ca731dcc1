package slackfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"testing"
	"time"
	"unicode/utf8"
)

// TriggerLifetime is how long a trigger_id can open a modal: "Triggers
// expire in three seconds… Triggers may only be used once."
const TriggerLifetime = 3 * time.Second

// Slack's limits of a modal view (reference/slack-platform.md §5.1): title,
// submit and close 24 characters, private_metadata 3000, callback_id,
// external_id, block_id and action_id 255, 100 blocks, input labels 2000,
// section text 3000, and a plain_text_input's max_length at most 3000.
const (
	maxViewButton   = 24
	maxViewMetadata = 3000
	maxViewID       = 255
	maxViewBlocks   = 100
	maxInputLabel   = 2000
	maxSectionText  = 3000
	maxInputLength  = 3000
)

// viewState is the modal side of a Server, guarded by Server.mu.
type viewState struct {
	triggers    map[string]*trigger
	lastTrigger int
	views       []*View
}

type trigger struct {
	issued time.Time
	used   bool
}

// View is a modal opened with views.open, as it stands now.
type View struct {
	ID              string
	TriggerID       string // the trigger_id that opened it
	CallbackID      string
	PrivateMetadata string
	ExternalID      string
	Title           string
	Submit          string // the submit button's label, "" without one
	Close           string
	Blocks          []json.RawMessage
	// Inputs are its input blocks, by block_id.
	Inputs map[string]Input
	// Closed is set once the app's answer to a submission closed it.
	Closed bool
	// Errors are the messages of the app's last response_action errors, by
	// the block_id of the input they show under.
	Errors map[string]string
	// Updates counts the response_action update answers that replaced it.
	Updates int
}

// Input is one input block of a view.
type Input struct {
	ActionID  string
	Element   string // "plain_text_input", …
	Label     string
	Optional  bool
	Multiline bool
	MinLength int
	MaxLength int // 0 without a limit of its own
}

// Trigger returns a new trigger_id, as Slack gives with every slash command
// and interaction it sends: views.open accepts it once, within
// TriggerLifetime.
func (s *Server) Trigger() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newTrigger()
}

// newTrigger is Trigger for a caller holding s.mu.
func (s *Server) newTrigger() string {
	s.views.lastTrigger++
	id := fmt.Sprintf("%d.%d.%032x", 1700000000000+s.views.lastTrigger, 4711, s.views.lastTrigger)
	s.views.triggers[id] = &trigger{issued: time.Now()}
	return id
}

// ExpireTriggers ages every trigger_id given so far past TriggerLifetime,
// as if the app waited too long before calling views.open.
func (s *Server) ExpireTriggers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.views.triggers {
		t.issued = time.Now().Add(-TriggerLifetime - time.Second)
	}
}

// Views returns the modals opened so far, oldest first, each as it stands.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]View, len(s.views.views))
	for i, v := range s.views.views {
		out[i] = v.clone()
	}
	return out
}

func (v *View) clone() View {
	c := *v
	c.Blocks = slices.Clone(v.Blocks)
	c.Inputs = maps.Clone(v.Inputs)
	c.Errors = maps.Clone(v.Errors)
	return c
}

// openView answers views.open: the trigger must be one the fake gave, used
// once, within TriggerLifetime; the view a valid modal whose external_id,
// if any, no other view has.
func (s *Server) openView(v url.Values) (map[string]any, string) {
	spec, detail := parseView(v.Get("view"))
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.views.triggers[v.Get("trigger_id")]
	switch {
	case !ok:
		return nil, "invalid_trigger_id"
	case t.used:
		return nil, "exchanged_trigger_id"
	case time.Since(t.issued) > TriggerLifetime:
		return nil, "expired_trigger_id"
	case detail != "":
		return map[string]any{"response_metadata": map[string]any{"messages": []string{"[ERROR] " + detail}}}, "invalid_arguments"
	case spec.ExternalID != "" && slices.ContainsFunc(s.views.views, func(o *View) bool { return o.ExternalID == spec.ExternalID }):
		return nil, "duplicate_external_id"
	}
	t.used = true
	view := spec.view(fmt.Sprintf("V%08d", len(s.views.views)+1), v.Get("trigger_id"))
	s.views.views = append(s.views.views, view)
	return map[string]any{"view": view.wire(nil)}, ""
}

// wire is the view as Slack shows it to the app: in views.open's answer,
// and with the user's input as its state in a view_submission payload.
func (v *View) wire(values map[string]map[string]any) map[string]any {
	if values == nil {
		values = map[string]map[string]any{}
	}
	return map[string]any{
		"id": v.ID, "team_id": TeamID, "type": "modal", "blocks": v.Blocks,
		"private_metadata": v.PrivateMetadata, "callback_id": v.CallbackID, "external_id": v.ExternalID,
		"state": map[string]any{"values": values}, "hash": fmt.Sprintf("%d.%s", v.Updates, v.ID),
		"title":        plainTextWire(v.Title),
		"close":        plainTextWire(v.Close),
		"submit":       plainTextWire(v.Submit),
		"root_view_id": v.ID, "previous_view_id": nil, "app_id": AppID, "bot_id": BotID,
		"clear_on_close": false, "notify_on_close": false, "app_installed_team_id": TeamID,
	}
}

func plainTextWire(text string) any {
	if text == "" {
		return nil
	}
	return map[string]any{"type": "plain_text", "text": text, "emoji": true}
}

// SubmitView is the view_submission payload of user pressing Submit on the
// open view viewID with values in its inputs, by block_id. It fails tb where
// Slack's client would not let the user submit: a view that is not open, a
// value for a block that is not an input, a required input left empty, or a
// value outside its input's min_length and max_length. The payload carries a
// new trigger_id, as every interaction does.
func (s *Server) SubmitView(tb testing.TB, viewID, user string, values map[string]string) map[string]any {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.findView(viewID)
	if v == nil || v.Closed {
		tb.Fatalf("slackfake: no open view %s to submit", viewID)
	}
	state := map[string]map[string]any{}
	for blockID, in := range v.Inputs {
		value, given := values[blockID]
		if problem := in.check(value); problem != "" {
			tb.Fatalf("slackfake: Slack would not submit view %s: input %s %s", viewID, blockID, problem)
		}
		entry := map[string]any{"type": in.Element, "value": nil}
		if given && value != "" {
			entry["value"] = value
		}
		state[blockID] = map[string]any{in.ActionID: entry}
	}
	for blockID := range values {
		if _, ok := v.Inputs[blockID]; !ok {
			tb.Fatalf("slackfake: view %s has no input block %q", viewID, blockID)
		}
	}
	return map[string]any{
		"type": "view_submission", "team": map[string]any{"id": TeamID, "domain": "slackfake"},
		"user":       map[string]any{"id": user, "team_id": TeamID},
		"api_app_id": AppID, "trigger_id": s.newTrigger(), "view": v.wire(state),
		"response_urls": []any{}, "is_enterprise_install": false,
	}
}

// check returns why Slack's client would refuse value in the input, or "".
func (in Input) check(value string) string {
	n := utf8.RuneCountInString(value)
	switch {
	case n == 0 && !in.Optional:
		return "is required"
	case n > 0 && n < in.MinLength:
		return fmt.Sprintf("needs at least %d characters", in.MinLength)
	case in.MaxLength > 0 && n > in.MaxLength:
		return fmt.Sprintf("takes at most %d characters, not %d", in.MaxLength, n)
	}
	return ""
}

// AnswerView applies the app's acknowledgement of a submission of viewID,
// an HTTP response body or a Socket Mode ack's payload, as Slack would: an
// empty one, or response_action clear, closes the view; errors shows
// messages under inputs and keeps it open; update replaces it. It fails tb
// for an answer Slack would not take, which it shows the user as "We had
// some trouble connecting": errors keyed by a block that is not an input, an
// update with an invalid view, or anything else.
func (s *Server) AnswerView(tb testing.TB, viewID string, answer []byte) View {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.findView(viewID)
	if v == nil {
		tb.Fatalf("slackfake: no view %s to answer", viewID)
	}
	if len(bytes.TrimSpace(answer)) == 0 || string(bytes.TrimSpace(answer)) == "null" {
		v.Closed = true
		return v.clone()
	}
	var a struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
		View           json.RawMessage   `json:"view"`
	}
	if err := json.Unmarshal(answer, &a); err != nil {
		tb.Fatalf("slackfake: the answer to view %s is not a JSON object: %v", viewID, err)
	}
	switch a.ResponseAction {
	case "clear":
		v.Closed = true
	case "errors":
		v.answerErrors(tb, a.Errors)
	case "update":
		spec, detail := parseView(string(a.View))
		if detail != "" {
			tb.Fatalf("slackfake: response_action update of view %s with an invalid view: %s", viewID, detail)
		}
		updated := spec.view(v.ID, v.TriggerID)
		updated.Updates = v.Updates + 1
		*v = *updated
	default:
		tb.Fatalf("slackfake: response_action %q is not one the fake models (clear, errors, update)", a.ResponseAction)
	}
	return v.clone()
}

func (v *View) answerErrors(tb testing.TB, errs map[string]string) {
	tb.Helper()
	if len(errs) == 0 {
		tb.Fatalf("slackfake: response_action errors without errors for view %s", v.ID)
	}
	for blockID := range errs {
		if _, ok := v.Inputs[blockID]; !ok {
			tb.Fatalf("slackfake: response_action errors names %q, not an input block of view %s: Slack shows a generic error instead", blockID, v.ID)
		}
	}
	v.Errors = maps.Clone(errs)
}

// findView returns view id, or nil. The caller holds s.mu.
func (s *Server) findView(id string) *View {
	i := slices.IndexFunc(s.views.views, func(v *View) bool { return v.ID == id })
	if i < 0 {
		return nil
	}
	return s.views.views[i]
}
