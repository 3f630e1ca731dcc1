package bot

import (
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

func TestValidateBlocks(t *testing.T) {
	section := func(id, text string) slack.Block {
		return slack.NewSectionBlock(mrkdwnText(text), nil, nil, slack.SectionBlockOptionBlockID(id))
	}
	button := func(actionID, text, value string) *slack.ButtonBlockElement {
		return slack.NewButtonBlockElement(actionID, value, plainText(text))
	}
	actions := func(buttons ...*slack.ButtonBlockElement) slack.Block {
		elements := make([]slack.BlockElement, len(buttons))
		for i, b := range buttons {
			elements[i] = b
		}
		return slack.NewActionBlock("a", elements...)
	}
	withConfirm := func(title, text, ok, deny string) *slack.ButtonBlockElement {
		return button("b", "B", "v").WithConfirm(slack.NewConfirmationBlockObject(plainText(title), plainText(text), plainText(ok), plainText(deny)))
	}
	many := func(n int, build func(i int) slack.Block) []slack.Block {
		blocks := make([]slack.Block, n)
		for i := range blocks {
			blocks[i] = build(i)
		}
		return blocks
	}
	texts := func(n int) []slack.MixedElement {
		elements := make([]slack.MixedElement, n)
		for i := range elements {
			elements[i] = mrkdwnText("x")
		}
		return elements
	}
	fields := func(n, size int) []*slack.TextBlockObject {
		out := make([]*slack.TextBlockObject, n)
		for i := range out {
			out[i] = mrkdwnText(strings.Repeat("f", size))
		}
		return out
	}
	tests := []struct {
		name    string
		blocks  []slack.Block
		wantErr string // "" means valid
	}{
		{"empty", nil, ""},
		{"at the limits", []slack.Block{
			slack.NewHeaderBlock(plainText(strings.Repeat("h", 150)), slack.HeaderBlockOptionBlockID(strings.Repeat("i", 255))),
			section("s", strings.Repeat("é", 3000)),
			slack.NewSectionBlock(nil, fields(10, 2000), nil),
			slack.NewContextBlock("c", texts(10)...),
			actions(button(strings.Repeat("a", 255), strings.Repeat("t", 75), strings.Repeat("v", 2000)), withConfirm(strings.Repeat("t", 100), strings.Repeat("t", 300), strings.Repeat("o", 30), strings.Repeat("d", 30))),
		}, ""},
		{"50 blocks", many(50, func(i int) slack.Block { return section(strings.Repeat("s", i+1), "x") }), ""},
		{"51 blocks", many(51, func(i int) slack.Block { return section(strings.Repeat("s", i+1), "x") }), "51 blocks, limit 50"},
		{"duplicate block_id", []slack.Block{section("s", "x"), section("s", "y")}, "duplicate block_id"},
		{"long block_id", []slack.Block{section(strings.Repeat("i", 256), "x")}, "block_id is 256 characters, limit 255"},
		{"long header", []slack.Block{slack.NewHeaderBlock(plainText(strings.Repeat("h", 151)))}, "header text is 151 characters, limit 150"},
		{"mrkdwn header", []slack.Block{slack.NewHeaderBlock(mrkdwnText("h"))}, "must be plain_text"},
		{"long section", []slack.Block{section("s", strings.Repeat("x", 3001))}, "section text is 3001 characters, limit 3000"},
		{"11 fields", []slack.Block{slack.NewSectionBlock(nil, fields(11, 1), nil)}, "11 section fields, limit 10"},
		{"long field", []slack.Block{slack.NewSectionBlock(nil, fields(1, 2001), nil)}, "section field is 2001 characters, limit 2000"},
		{"accessory button", []slack.Block{slack.NewSectionBlock(mrkdwnText("x"), nil, slack.NewAccessory(button("b", strings.Repeat("t", 76), "v")))}, "button text is 76 characters, limit 75"},
		{"11 context elements", []slack.Block{slack.NewContextBlock("c", texts(11)...)}, "11 context elements, limit 10"},
		{"long context text", []slack.Block{slack.NewContextBlock("c", mrkdwnText(strings.Repeat("x", 3001)))}, "context text is 3001 characters, limit 3000"},
		{"long button text", []slack.Block{actions(button("b", strings.Repeat("t", 76), "v"))}, "button text is 76 characters, limit 75"},
		{"long button value", []slack.Block{actions(button("b", "B", strings.Repeat("v", 2001)))}, "button value is 2001 characters, limit 2000"},
		{"long action_id", []slack.Block{actions(button(strings.Repeat("a", 256), "B", "v"))}, "button action_id is 256 characters, limit 255"},
		{"long button url", []slack.Block{actions(button("b", "B", "v").WithURL("https://x/" + strings.Repeat("u", 2991)))}, "button url is 3001 characters, limit 3000"},
		{"duplicate action_id", []slack.Block{actions(button("b", "B", "v"), button("b", "C", "w"))}, `duplicate action_id "b"`},
		{"26 buttons", []slack.Block{actions(func() []*slack.ButtonBlockElement {
			out := make([]*slack.ButtonBlockElement, 26)
			for i := range out {
				out[i] = button(strings.Repeat("b", i+1), "B", "v")
			}
			return out
		}()...)}, "26 actions elements, limit 25"},
		{"long confirm title", []slack.Block{actions(withConfirm(strings.Repeat("t", 101), "x", "ok", "no"))}, "confirm title is 101 characters, limit 100"},
		{"long confirm text", []slack.Block{actions(withConfirm("t", strings.Repeat("x", 301), "ok", "no"))}, "confirm text is 301 characters, limit 300"},
		{"long confirm button", []slack.Block{actions(withConfirm("t", "x", strings.Repeat("o", 31), "no"))}, "confirm button is 31 characters, limit 30"},
		{"long deny button", []slack.Block{actions(withConfirm("t", "x", "ok", strings.Repeat("d", 31)))}, "deny button is 31 characters, limit 30"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateBlocks(tc.blocks)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("ValidateBlocks = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("ValidateBlocks = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidateBlocksReportsEveryViolation(t *testing.T) {
	err := ValidateBlocks([]slack.Block{
		slack.NewHeaderBlock(plainText(strings.Repeat("h", 151)), slack.HeaderBlockOptionBlockID("report.header")),
		slack.NewSectionBlock(mrkdwnText(strings.Repeat("x", 3001)), nil, nil, slack.SectionBlockOptionBlockID("finding.load.cpu")),
	})
	if err == nil {
		t.Fatal("ValidateBlocks = nil, want two violations")
	}
	for _, want := range []string{`block 0 (header "report.header")`, `block 1 (section "finding.load.cpu")`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateBlocks = %q, want it to locate %s", err, want)
		}
	}
}

func TestTruncateText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"fits", "hello", 5, "hello"},
		{"cut", "hello world", 8, "hello w…"},
		{"counts runes", "日本語のテキスト", 4, "日本語…"},
		{"never splits an entity", "ab &amp; cd", 7, "ab …"},
		{"keeps a whole entity", "ab &amp; cd", 10, "ab &amp; …"},
		{"suffix longer than max", "hello", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := truncateText(tc.in, tc.max, "…"); got != tc.want {
				t.Errorf("truncateText(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
	if got := truncateText(strings.Repeat("x", 100), 20, seeThread); got != "xxxxxx"+seeThread {
		t.Errorf("truncateText with seeThread = %q", got)
	}
}

func TestEscapeMrkdwn(t *testing.T) {
	if got, want := escapeMrkdwn("<!channel> & <@U1|x>"), "&lt;!channel&gt; &amp; &lt;@U1|x&gt;"; got != want {
		t.Errorf("escapeMrkdwn = %q, want %q", got, want)
	}
}
