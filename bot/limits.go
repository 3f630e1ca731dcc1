package bot

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// Slack's Block Kit limits for messages (reference/slack-platform.md §5.1).
// Slack rejects a message that breaks any of them with invalid_blocks.
const (
	maxBlocks             = 50
	maxBlockID            = 255
	maxHeaderText         = 150
	maxSectionText        = 3000
	maxSectionFields      = 10
	maxFieldText          = 2000
	maxContextElements    = 10
	maxContextText        = 3000
	maxActionsElements    = 25
	maxActionID           = 255
	maxButtonText         = 75
	maxButtonValue        = 2000
	maxButtonURL          = 3000
	maxConfirmTitle       = 100
	maxConfirmText        = 300
	maxConfirmButtonLabel = 30
)

// ValidateBlocks checks blocks against Slack's limits for a message: at most
// 50 blocks with unique block IDs of at most 255 characters; header text at
// most 150 characters; section text 3000 and at most 10 fields of 2000;
// context blocks at most 10 elements; actions blocks at most 25 elements;
// buttons with unique action IDs of at most 255 characters, text 75, value
// 2000, URL 3000, and confirm dialogs within 100/300/30/30. It returns every
// violation found, joined, or nil. Characters are counted as Unicode code
// points.
func ValidateBlocks(blocks []slack.Block) error {
	var errs []error
	if len(blocks) > maxBlocks {
		errs = append(errs, fmt.Errorf("%d blocks, limit %d", len(blocks), maxBlocks))
	}
	seen := map[string]bool{}
	for i, b := range blocks {
		v := blockValidator{where: fmt.Sprintf("block %d (%s %q)", i, b.BlockType(), b.ID())}
		if seen[b.ID()] && b.ID() != "" {
			v.fail("duplicate block_id")
		}
		seen[b.ID()] = true
		v.maxLen("block_id", b.ID(), maxBlockID)
		v.block(b)
		errs = append(errs, v.errs...)
	}
	return errors.Join(errs...)
}

// blockValidator collects the violations of one block.
type blockValidator struct {
	where string
	errs  []error
}

func (v *blockValidator) fail(format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", v.where, fmt.Sprintf(format, args...)))
}

func (v *blockValidator) maxLen(what, s string, limit int) {
	if n := utf8.RuneCountInString(s); n > limit {
		v.fail("%s is %d characters, limit %d", what, n, limit)
	}
}

func (v *blockValidator) maxCount(what string, n, limit int) {
	if n > limit {
		v.fail("%d %s, limit %d", n, what, limit)
	}
}

func (v *blockValidator) text(what string, t *slack.TextBlockObject, limit int) {
	if t != nil {
		v.maxLen(what, t.Text, limit)
	}
}

func (v *blockValidator) block(b slack.Block) {
	switch b := b.(type) {
	case *slack.HeaderBlock:
		v.text("header text", b.Text, maxHeaderText)
		if b.Text != nil && b.Text.Type != slack.PlainTextType {
			v.fail("header text is %s, must be plain_text", b.Text.Type)
		}
	case *slack.SectionBlock:
		v.text("section text", b.Text, maxSectionText)
		v.maxCount("section fields", len(b.Fields), maxSectionFields)
		for _, f := range b.Fields {
			v.text("section field", f, maxFieldText)
		}
		if b.Accessory != nil && b.Accessory.ButtonElement != nil {
			v.button(b.Accessory.ButtonElement)
		}
	case *slack.ContextBlock:
		v.maxCount("context elements", len(b.ContextElements.Elements), maxContextElements)
		for _, e := range b.ContextElements.Elements {
			if t, ok := e.(*slack.TextBlockObject); ok {
				v.text("context text", t, maxContextText)
			}
		}
	case *slack.ActionBlock:
		v.actions(b)
	}
}

func (v *blockValidator) actions(b *slack.ActionBlock) {
	if b.Elements == nil {
		return
	}
	v.maxCount("actions elements", len(b.Elements.ElementSet), maxActionsElements)
	actionIDs := map[string]bool{}
	for _, e := range b.Elements.ElementSet {
		button, ok := e.(*slack.ButtonBlockElement)
		if !ok {
			continue
		}
		if actionIDs[button.ActionID] {
			v.fail("duplicate action_id %q", button.ActionID)
		}
		actionIDs[button.ActionID] = true
		v.button(button)
	}
}

func (v *blockValidator) button(b *slack.ButtonBlockElement) {
	v.maxLen("button action_id", b.ActionID, maxActionID)
	v.text("button text", b.Text, maxButtonText)
	v.maxLen("button value", b.Value, maxButtonValue)
	v.maxLen("button url", b.URL, maxButtonURL)
	if c := b.Confirm; c != nil {
		v.text("confirm title", c.Title, maxConfirmTitle)
		v.text("confirm text", c.Text, maxConfirmText)
		v.text("confirm button", c.Confirm, maxConfirmButtonLabel)
		v.text("deny button", c.Deny, maxConfirmButtonLabel)
	}
}
