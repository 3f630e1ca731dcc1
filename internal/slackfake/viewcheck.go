package slackfake

import (
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"
)

// viewSpec is a view argument (of views.open, or of a response_action
// update) as the app sent it.
type viewSpec struct {
	Type            string            `json:"type"`
	Title           *textObject       `json:"title"`
	Submit          *textObject       `json:"submit"`
	Close           *textObject       `json:"close"`
	Blocks          []json.RawMessage `json:"blocks"`
	PrivateMetadata string            `json:"private_metadata"`
	CallbackID      string            `json:"callback_id"`
	ExternalID      string            `json:"external_id"`
}

type textObject struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// blockSpec is what the fake reads of one block of a view.
type blockSpec struct {
	Type     string      `json:"type"`
	BlockID  string      `json:"block_id"`
	Label    *textObject `json:"label"`
	Optional bool        `json:"optional"`
	Text     *textObject `json:"text"`
	Element  *struct {
		Type         string `json:"type"`
		ActionID     string `json:"action_id"`
		Multiline    bool   `json:"multiline"`
		MinLength    int    `json:"min_length"`
		MaxLength    int    `json:"max_length"`
		InitialValue string `json:"initial_value"`
	} `json:"element"`
}

// parseView reads a view argument and checks it as Slack does, returning
// what is wrong with it, or "".
func parseView(arg string) (viewSpec, string) {
	var spec viewSpec
	if err := json.Unmarshal([]byte(arg), &spec); err != nil {
		return spec, fmt.Sprintf("view is not a JSON object: %v", err)
	}
	if spec.Type != "modal" {
		return spec, fmt.Sprintf("view type %q: views.open opens modals", spec.Type)
	}
	if problem := spec.checkFrame(); problem != "" {
		return spec, problem
	}
	inputs, problem := spec.inputs()
	if problem == "" && len(inputs) > 0 && spec.Submit == nil {
		problem = "a modal with input blocks needs a submit button"
	}
	return spec, problem
}

// checkFrame checks what surrounds the blocks: title, buttons, and the
// strings the app gets back.
func (v viewSpec) checkFrame() string {
	if v.Title == nil {
		return "title is required"
	}
	for name, t := range map[string]*textObject{"title": v.Title, "submit": v.Submit, "close": v.Close} {
		if problem := checkPlainText(name, t, maxViewButton); problem != "" {
			return problem
		}
	}
	for name, limit := range map[string][2]int{
		"private_metadata": {utf8.RuneCountInString(v.PrivateMetadata), maxViewMetadata},
		"callback_id":      {utf8.RuneCountInString(v.CallbackID), maxViewID},
		"external_id":      {utf8.RuneCountInString(v.ExternalID), maxViewID},
		"blocks":           {len(v.Blocks), maxViewBlocks},
	} {
		if limit[0] > limit[1] {
			return fmt.Sprintf("%s has %d, more than %d", name, limit[0], limit[1])
		}
	}
	return ""
}

// checkPlainText checks an optional plain_text object of at most limit
// characters, not empty.
func checkPlainText(name string, t *textObject, limit int) string {
	switch {
	case t == nil:
		return ""
	case t.Type != "plain_text":
		return fmt.Sprintf("%s must be plain_text, not %q", name, t.Type)
	case t.Text == "" || utf8.RuneCountInString(t.Text) > limit:
		return fmt.Sprintf("%s must have 1 to %d characters, not %d", name, limit, utf8.RuneCountInString(t.Text))
	}
	return ""
}

// inputs checks every block and returns the input blocks, by block_id.
func (v viewSpec) inputs() (map[string]Input, string) {
	inputs := map[string]Input{}
	var ids []string
	for i, raw := range v.Blocks {
		var b blockSpec
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Sprintf("block %d: %v", i, err)
		}
		if b.BlockID != "" && slices.Contains(ids, b.BlockID) {
			return nil, fmt.Sprintf("block %d: duplicate block_id %q", i, b.BlockID)
		}
		ids = append(ids, b.BlockID)
		in, problem := b.check()
		if problem != "" {
			return nil, fmt.Sprintf("block %d (%s %q): %s", i, b.Type, b.BlockID, problem)
		}
		if b.Type == "input" {
			inputs[b.BlockID] = in
		}
	}
	return inputs, ""
}

// check checks one block and, for an input block, returns its Input.
func (b blockSpec) check() (Input, string) {
	if utf8.RuneCountInString(b.BlockID) > maxViewID {
		return Input{}, "block_id longer than 255"
	}
	switch b.Type {
	case "section":
		if b.Text != nil && utf8.RuneCountInString(b.Text.Text) > maxSectionText {
			return Input{}, "text longer than 3000"
		}
	case "input":
		return b.checkInput()
	}
	return Input{}, ""
}

func (b blockSpec) checkInput() (Input, string) {
	if b.BlockID == "" {
		return Input{}, "an input the app reads back needs a block_id" // Slack would make one up; the app could not find its value
	}
	if b.Label == nil {
		return Input{}, "a plain_text label is required"
	}
	if problem := checkPlainText("label", b.Label, maxInputLabel); problem != "" {
		return Input{}, problem
	}
	e := b.Element
	switch {
	case e == nil:
		return Input{}, "element is required"
	case e.ActionID == "" || utf8.RuneCountInString(e.ActionID) > maxViewID:
		return Input{}, "action_id must have 1 to 255 characters"
	case e.Type == "plain_text_input" && (e.MaxLength > maxInputLength || e.MinLength > maxInputLength || e.MaxLength > 0 && e.MinLength > e.MaxLength):
		return Input{}, fmt.Sprintf("min_length %d and max_length %d must be at most 3000, min below max", e.MinLength, e.MaxLength)
	case e.MaxLength > 0 && utf8.RuneCountInString(e.InitialValue) > e.MaxLength:
		return Input{}, "initial_value longer than max_length"
	}
	return Input{ActionID: e.ActionID, Element: e.Type, Label: b.Label.Text, Optional: b.Optional,
		Multiline: e.Multiline, MinLength: e.MinLength, MaxLength: e.MaxLength}, ""
}

// view is the View v describes, with its ID and trigger.
func (v viewSpec) view(id, triggerID string) *View {
	inputs, _ := v.inputs()
	return &View{
		ID: id, TriggerID: triggerID, CallbackID: v.CallbackID, PrivateMetadata: v.PrivateMetadata,
		ExternalID: v.ExternalID, Title: textOf(v.Title), Submit: textOf(v.Submit), Close: textOf(v.Close),
		Blocks: v.Blocks, Inputs: inputs,
	}
}

func textOf(t *textObject) string {
	if t == nil {
		return ""
	}
	return t.Text
}
