// Command blockkithtml renders a Slack message's Block Kit JSON, as
// `cvmlogin diagnose --output blocks` prints it, into an HTML page that looks
// like the message in Slack: header, sections, context lines and buttons,
// with mrkdwn (bold, code, links, mentions, emoji) drawn. It draws the
// blocks the report message uses; others are shown as their type. The
// README's picture is this page, screenshotted by docs/report-picture.sh.
//
//	cvmlogin diagnose ins-sgdrop01 --simulate -o blocks | go run ./docs/blockkithtml > report.html
package main

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"regexp"
	"strings"
)

// message is the part of a chat.postMessage payload that is drawn.
type message struct {
	Blocks []block `json:"blocks"`
}

type block struct {
	Type     string    `json:"type"`
	Text     *text     `json:"text"`
	Elements []element `json:"elements"`
}

type text struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type element struct {
	Type  string `json:"type"`
	Text  any    `json:"text"` // a context element's string, or a button's text object
	Style string `json:"style"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "blockkithtml:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	var m message
	if err := json.NewDecoder(in).Decode(&m); err != nil {
		return fmt.Errorf("reading the Block Kit JSON: %w", err)
	}
	var b strings.Builder
	b.WriteString(pageStart)
	for _, bl := range m.Blocks {
		b.WriteString(renderBlock(bl))
	}
	b.WriteString(pageEnd)
	_, err := io.WriteString(out, b.String())
	return err
}

func renderBlock(bl block) string {
	switch bl.Type {
	case "header":
		return `<div class="header">` + html.EscapeString(textOf(bl.Text)) + "</div>\n"
	case "section":
		return `<div class="section">` + mrkdwn(textOf(bl.Text)) + "</div>\n"
	case "context":
		var parts []string
		for _, e := range bl.Elements {
			if s, ok := e.Text.(string); ok {
				parts = append(parts, mrkdwn(s))
			}
		}
		return `<div class="context">` + strings.Join(parts, "<br>") + "</div>\n"
	case "actions":
		var buttons []string
		for _, e := range bl.Elements {
			label := ""
			if t, ok := e.Text.(map[string]any); ok {
				label, _ = t["text"].(string)
			}
			buttons = append(buttons, `<span class="button `+html.EscapeString(e.Style)+`">`+html.EscapeString(label)+"</span>")
		}
		return `<div class="actions">` + strings.Join(buttons, "") + "</div>\n"
	}
	return `<div class="context">[` + html.EscapeString(bl.Type) + " block]</div>\n"
}

func textOf(t *text) string {
	if t == nil {
		return ""
	}
	return t.Text
}

// emoji draws the shortcodes the report uses with symbols every font has.
var emoji = map[string]string{
	"white_check_mark":        `<span class="e ok">✔</span>`,
	"x":                       `<span class="e fail">✖</span>`,
	"warning":                 `<span class="e warn">!</span>`,
	"grey_question":           `<span class="e unknown">?</span>`,
	"heavy_minus_sign":        `<span class="e skipped">–</span>`,
	"rotating_light":          `<span class="e fail">!</span>`,
	"hourglass_flowing_sand":  `<span class="e skipped">…</span>`,
	"arrows_counterclockwise": `<span class="e unknown">↻</span>`,
}

var (
	linkRe    = regexp.MustCompile(`&lt;(https?://[^|&]*(?:&amp;[^|&]*)*)\|([^&]*)&gt;`)
	mentionRe = regexp.MustCompile(`&lt;@([A-Z0-9]+)&gt;`)
	boldRe    = regexp.MustCompile(`\*([^*\n]+)\*`)
	codeRe    = regexp.MustCompile("`([^`\n]+)`")
	emojiRe   = regexp.MustCompile(`:([a-z_]+):`)
)

// mrkdwn draws Slack mrkdwn as HTML: links, user mentions, *bold*, `code`,
// :emoji: and line breaks. Slack's own escapes (&amp; &lt; &gt;) arrive
// escaped and stay so.
func mrkdwn(s string) string {
	s = strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(s) // &amp; is already escaped
	s = linkRe.ReplaceAllString(s, `<a href="#">$2</a>`)
	s = mentionRe.ReplaceAllString(s, `<span class="mention">@$1</span>`)
	s = codeRe.ReplaceAllString(s, `<code>$1</code>`)
	s = boldRe.ReplaceAllString(s, `<b>$1</b>`)
	s = emojiRe.ReplaceAllStringFunc(s, func(m string) string {
		if e, ok := emoji[strings.Trim(m, ":")]; ok {
			return e
		}
		return m
	})
	return strings.ReplaceAll(s, "\n", "<br>")
}

const pageStart = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>
body { margin: 0; background: #fff; font: 15px/1.46 "DejaVu Sans", sans-serif; color: #1d1c1d; }
.msg { display: flex; padding: 16px 20px; width: 820px; }
.avatar { width: 36px; height: 36px; border-radius: 6px; background: #2eb67d; color: #fff; font-weight: bold; text-align: center; line-height: 36px; margin-right: 10px; flex: none; }
.who { font-weight: bold; margin-bottom: 4px; } .who .app { font-size: 10px; background: #ddd; border-radius: 2px; padding: 1px 3px; color: #555; margin-left: 4px; }
.header { font-size: 18px; font-weight: bold; margin: 4px 0 8px; }
.section { margin: 8px 0; }
.context { font-size: 12.5px; color: #616061; margin: 6px 0; }
code { font: 12px "DejaVu Sans Mono", monospace; color: #e01e5a; background: #f6f6f6; border: 1px solid #ddd; border-radius: 3px; padding: 0 3px; }
a { color: #1264a3; text-decoration: none; }
.mention { color: #1264a3; background: #e8f5fa; border-radius: 3px; padding: 0 2px; }
.e { display: inline-block; width: 16px; height: 16px; border-radius: 3px; color: #fff; font-size: 11px; line-height: 16px; text-align: center; font-weight: bold; }
.e.ok { background: #2eb67d; } .e.fail { background: #e01e5a; } .e.warn { background: #ecb22e; } .e.unknown { background: #9a9a9a; } .e.skipped { background: #c8c8c8; }
.actions { margin-top: 10px; }
.button { display: inline-block; border: 1px solid #bbb; border-radius: 4px; padding: 3px 12px; margin: 0 8px 6px 0; font-size: 13px; font-weight: bold; }
.button.primary { background: #007a5a; border-color: #007a5a; color: #fff; }
.button.danger { color: #e01e5a; }
</style></head><body><div class="msg"><div class="avatar">cl</div><div><div class="who">cvmlogin<span class="app">APP</span></div>
`

const pageEnd = "</div></div></body></html>\n"
