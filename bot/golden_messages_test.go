package bot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
)

// AssertGolden is assertGolden for the end-to-end tests of package bot_test,
// so that every golden file answers to the same -update flag.
var AssertGolden = assertGolden

// maxMessageText is the most a message's text may hold: chat.update refuses
// more (msg_too_long) and chat.postMessage truncates.
const maxMessageText = 4000

// AssertSlackMessage checks a message payload ({"text", "blocks"}) the way
// Slack would read it: slack-go knows every field and block type, and writes
// the blocks back exactly as they were (no field of ours is lost on the way);
// the blocks keep Block Kit's limits (ValidateBlocks), the text 4000
// characters; and every mrkdwn text is well formed (AssertMrkdwn).
func AssertSlackMessage(tb testing.TB, payload []byte) {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var msg slack.Msg
	if err := dec.Decode(&msg); err != nil {
		tb.Fatalf("slack-go cannot read the message: %v", err)
	}
	for _, b := range msg.Blocks.BlockSet {
		if _, unknown := b.(*slack.UnknownBlock); unknown {
			tb.Errorf("block %q (%s) is of a type slack-go does not know", b.ID(), b.BlockType())
		}
	}
	if err := ValidateBlocks(msg.Blocks.BlockSet); err != nil {
		tb.Errorf("the blocks break Slack's limits: %v", err)
	}
	if n := utf8.RuneCountInString(msg.Text); n > maxMessageText {
		tb.Errorf("the text is %d characters, limit %d", n, maxMessageText)
	}
	assertBlocksRoundTrip(tb, payload, msg.Blocks)
	AssertMrkdwn(tb, "text", msg.Text)
	for id, text := range mrkdwnTexts(msg.Blocks.BlockSet) {
		AssertMrkdwn(tb, id, text)
	}
}

// assertBlocksRoundTrip checks that slack-go writes blocks back as payload
// holds them: a field it does not know would be dropped.
func assertBlocksRoundTrip(tb testing.TB, payload []byte, blocks slack.Blocks) {
	tb.Helper()
	var sent struct {
		Blocks any `json:"blocks"`
	}
	if err := json.Unmarshal(payload, &sent); err != nil || sent.Blocks == nil {
		return // a text-only message
	}
	again, err := json.Marshal(blocks)
	if err != nil {
		tb.Fatalf("slack-go cannot write the blocks back: %v", err)
	}
	var read any
	if err := json.Unmarshal(again, &read); err != nil {
		tb.Fatal(err)
	}
	if !reflect.DeepEqual(sent.Blocks, read) {
		tb.Errorf("slack-go reads the blocks differently from what was sent (an unknown field?):\nsent %s\nread %s", jsonText(sent.Blocks), again)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// mrkdwnTexts returns the mrkdwn texts of blocks by where they are, for
// AssertMrkdwn; plain_text is shown as typed and needs no escaping.
func mrkdwnTexts(blocks []slack.Block) map[string]string {
	texts := map[string]string{}
	add := func(where string, t *slack.TextBlockObject) {
		if t != nil && t.Type == slack.MarkdownType {
			texts[where] = t.Text
		}
	}
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.SectionBlock:
			add(b.BlockID, b.Text)
			for i, f := range b.Fields {
				add(fmt.Sprintf("%s field %d", b.BlockID, i), f)
			}
		case *slack.ContextBlock:
			for i, e := range b.ContextElements.Elements {
				if t, ok := e.(*slack.TextBlockObject); ok {
					add(fmt.Sprintf("%s element %d", b.BlockID, i), t)
				}
			}
		}
	}
	return texts
}

// mrkdwnControl matches what may stand between < and > in mrkdwn: a user,
// channel or user-group mention, a special mention, or a link with an
// optional label.
var mrkdwnControl = regexp.MustCompile(`^<(@[UW][A-Z0-9]+|#C[A-Z0-9]+(\|[^<>|]+)?|!subteam\^[A-Z0-9]+(\|[^<>|]+)?|!(here|channel|everyone)|(https?://|mailto:)[^<>|\s]+(\|[^<>|]+)?)>`)

// mrkdwnEntity matches the escapes Slack decodes.
var mrkdwnEntity = regexp.MustCompile(`^&(amp|lt|gt);`)

// AssertMrkdwn checks that text is mrkdwn Slack shows as meant: every < opens
// a mention or a link and every > closes one, every & starts an escape, and
// the code markers are paired on each line.
func AssertMrkdwn(tb testing.TB, where, text string) {
	tb.Helper()
	for i := 0; i < len(text); i++ {
		rest := text[i:]
		switch text[i] {
		case '<':
			control := mrkdwnControl.FindString(rest)
			if control == "" {
				tb.Errorf("%s: an unescaped < that is no mention or link, at %q", where, clipForError(rest))
				continue
			}
			i += len(control) - 1
		case '>':
			tb.Errorf("%s: an unescaped > at %q", where, clipForError(rest))
		case '&':
			if !mrkdwnEntity.MatchString(rest) {
				tb.Errorf("%s: an unescaped & at %q", where, clipForError(rest))
			}
		}
	}
	if strings.Contains(text, "```") {
		return // code blocks are checked by the thread tests
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.Count(line, "`")%2 != 0 {
			tb.Errorf("%s: an unpaired ` in %q", where, clipForError(line))
		}
	}
}

func clipForError(s string) string { return truncateText(s, 60, "…") }

// TestGoldenFilesAreSlackMessages: every Block Kit golden file is a message
// Slack and slack-go read as written.
func TestGoldenFilesAreSlackMessages(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.golden.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden files (%v)", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			payload, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(filepath.Base(path), "TestRenderModal_") {
				assertSlackModal(t, payload)
				return
			}
			AssertSlackMessage(t, payload)
		})
	}
}

// assertSlackModal checks a modal view as views.open receives it: slack-go
// reads every field, and its blocks keep within Slack's limits.
func assertSlackModal(tb testing.TB, payload []byte) {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var view slack.ModalViewRequest
	if err := dec.Decode(&view); err != nil {
		tb.Fatalf("slack-go cannot read the view: %v", err)
	}
	if view.Type != slack.VTModal {
		tb.Errorf("view type %q, want modal", view.Type)
	}
	if err := ValidateBlocks(view.Blocks.BlockSet); err != nil {
		tb.Errorf("the blocks break Slack's limits: %v", err)
	}
}

// TestQueueNoticeGolden: what a user whose diagnosis must wait for its turn
// is told, behind queues of several lengths and in a channel whose messages
// wait for Slack's pace; and nothing when it runs at once.
func TestQueueNoticeGolden(t *testing.T) {
	b := New(nil, nil, nil, nil, Options{Workers: 4, PostInterval: time.Second})
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	b.out.send("C0BUSY", true, func() { close(started); <-release })
	<-started
	for range 12 {
		b.out.send("C0BUSY", false, func() {})
	}
	tests := []struct {
		name, channel string
		ahead         int64
	}{
		{"depth unknown", "C0QUIET", -1},
		{"a free worker", "C0QUIET", 3},
		{"one round", "C0QUIET", 4},
		{"a long queue", "C0QUIET", 25},
		{"a very long queue", "C0QUIET", 400},
		{"a busy channel and no queue", "C0BUSY", 0},
		{"a busy channel and one ahead", "C0BUSY", 1},
		{"a busy channel and a long queue", "C0BUSY", 40},
	}
	var out strings.Builder
	for _, tc := range tests {
		job := conversations.Job{Channel: tc.channel, Target: "web-1 <prod> & co"}
		text := b.queueNotice(job, tc.ahead)
		AssertMrkdwn(t, tc.name, text)
		fmt.Fprintf(&out, "--- %s (%d ahead, channel %s) ---\n%s\n", tc.name, tc.ahead, tc.channel, text)
	}
	assertGolden(t, []byte(out.String()), ".golden.txt")
}

// windowsServer returns a report of a healthy Windows instance.
func windowsServer() *diag.Report {
	r := healthyLinux()
	r.Target = "ins-win12345"
	in := r.Instance
	in.ID, in.Name, in.OS, in.OSName, in.LoginPort = "ins-win12345", "win-1", diag.OSWindows, "Windows Server 2022 DataCenter 64bit", 3389
	return finish(r)
}

// TestGuestRepairPlansGolden: what the presser's confirm dialog and the
// approver's plan say of each guest repair, on Linux and on Windows, and of
// the guest firewall's undo with each firewall it may have changed.
func TestGuestRepairPlansGolden(t *testing.T) {
	linux := healthyLinux()
	linux.Instance.LoginUser = "ubuntu"
	const fixID, openID = "5dmbxk3zqvhq2hkh6cqkxgxiwy", "qqx7dnbyhpvyn4ctmb3xqgdcoa"
	var out strings.Builder
	for _, r := range []*diag.Report{linux, windowsServer()} {
		for _, action := range []diag.FixAction{diag.FixRestartLoginService, diag.FixOpenGuestFirewall, diag.FixFixAuthorizedKeys, diag.FixEnableRDP} {
			plan, err := diag.PlanReportFix(fixID, action, r, "")
			if err != nil {
				fmt.Fprintf(&out, "--- %s on %s: not offered (%v)\n", action, r.Instance.OS, err)
				continue
			}
			writeRepairPlan(t, &out, action, r, plan)
		}
		opened, err := diag.PlanReportFix(openID, diag.FixOpenGuestFirewall, r, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, mechanism := range []string{"firewalld", "ufw", "iptables", "windows"} {
			plan, err := diag.PlanUndoGuestFirewall(fixID, opened, mechanism)
			if err != nil {
				continue // a mechanism of the other OS
			}
			writeRepairPlan(t, &out, diag.FixUndoGuestFirewall, r, plan)
		}
	}
	assertGolden(t, []byte(out.String()), ".golden.txt")
}

// writeRepairPlan writes the confirm dialog of action's button on r, and
// plan as the approver reads it, after checking both against Slack's
// limits.
func writeRepairPlan(t *testing.T, out *strings.Builder, action diag.FixAction, r *diag.Report, plan diag.FixPlan) {
	t.Helper()
	fmt.Fprintf(out, "--- %s on %s (%s) ---\n", action, r.Instance.OS, plan.Mechanism)
	look := describeButton(string(action), r)
	button := newButton(string(action), "v", look)
	if err := ValidateBlocks([]slack.Block{slack.NewActionBlock("a", button)}); err != nil {
		t.Errorf("%s: %v", action, err)
	}
	fmt.Fprintf(out, "button: %s\n", button.Text.Text)
	if c := button.Confirm; c != nil {
		fmt.Fprintf(out, "confirm: %s | %s | %s\n", c.Title.Text, c.Text.Text, c.Confirm.Text)
	}
	fmt.Fprintf(out, "plan: %s\n", plan.Describe())
}

// TestRenderReportSymptomAdvice: with no failed check, the verdict points at
// the advice for the error the user saw, not at the usual suspects; a long
// error message is cut with an ellipsis, since the thread does not repeat
// it.
func TestRenderReportSymptomAdvice(t *testing.T) {
	tests := []struct {
		name, symptom, want string
	}{
		{"known family", "Host key verification failed.", "The error you saw is explained below, with what to try on your side."},
		{"unknown family", "it just hangs", "If you still cannot log in, check the user name"},
		{"no symptom", "", "If you still cannot log in, check the user name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			verdict := renderedText(RenderReport(finalView(withSymptom(healthyLinux(), tc.symptom))))["report.verdict"]
			if !strings.Contains(verdict, tc.want) {
				t.Errorf("verdict = %q, want it to contain %q", verdict, tc.want)
			}
		})
	}
	long := withSymptom(healthyLinux(), "Permission denied (publickey) <"+strings.Repeat("x", 400))
	got := renderedText(RenderReport(finalView(long)))["report.symptom"]
	if strings.Contains(got, seeThread) || !strings.Contains(got, "&lt;xxx") || !strings.Contains(got, "x…`: The server refused the SSH key") {
		t.Errorf("symptom section = %q, want the message escaped and cut with … inside its quotes", got)
	}
	AssertMrkdwn(t, "report.symptom", got)
}

func TestAboutDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "5 seconds"},
		{7 * time.Second, "5 seconds"},
		{8 * time.Second, "10 seconds"},
		{57 * time.Second, "55 seconds"},
		{58 * time.Second, "1 minute"},
		{89 * time.Second, "1 minute"},
		{90 * time.Second, "2 minutes"},
		{200 * time.Second, "3 minutes"},
		{2 * time.Hour, "120 minutes"},
	}
	for _, tc := range tests {
		if got := aboutDuration(tc.d); got != tc.want {
			t.Errorf("aboutDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
