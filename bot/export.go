package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
)

// exportName is the base file name of an exported report:
// cvmlogin-<instance>-<time>.
func exportName(r *diag.Report) string {
	who := r.Target
	if r.Instance != nil {
		who = r.Instance.ID
	}
	who = strings.Map(func(c rune) rune {
		if c == '.' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return c
		}
		return '_'
	}, who)
	return fmt.Sprintf("cvmlogin-%s-%s", who, r.StartedAt.UTC().Format("20060102T150405Z"))
}

// uploadReport uploads the report as .md and .json into the conversation's
// thread (Slack's files upload v2 flow). The Markdown is a ticket: the
// report, then what was tried in the conversation (its log).
func (b *Bot) uploadReport(ctx context.Context, c conversations.Conversation, r *diag.Report) error {
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		return fmt.Errorf("rendering Markdown: %w", err)
	}
	entries, err := b.store.Log(ctx, c.ID)
	if err != nil {
		b.log.WarnContext(ctx, "reading the conversation log for the export", "diag_id", c.ID, "err", err)
	}
	writeTimeline(&md, entries)
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("rendering JSON: %w", err)
	}
	name := exportName(r)
	files := []struct{ ext, title, content string }{
		{".md", "Diagnosis report (Markdown)", md.String()},
		{".json", "Diagnosis report (JSON)", string(js)},
	}
	for _, f := range files {
		params := slack.UploadFileParameters{
			Filename: name + f.ext, Title: f.title, Content: f.content, FileSize: len(f.content),
			Channel: c.Channel, ThreadTimestamp: c.ThreadTS,
		}
		err := b.deliver(ctx, "uploading "+params.Filename, func(ctx context.Context) error {
			_, err := b.slack.UploadFileContext(ctx, params)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// writeTimeline appends the conversation's log to an exported report as
// "What was tried": who asked for the diagnosis, every fix request, decision
// and outcome, oldest first. Nothing is written when the log is empty.
func writeTimeline(w *bytes.Buffer, entries []conversations.LogEntry) {
	if len(entries) == 0 {
		return
	}
	w.WriteString("\n## What was tried\n\n")
	for _, e := range entries {
		fmt.Fprintf(w, "- %s %s: %s\n", e.Time.UTC().Format("2006-01-02 15:04:05 UTC"), e.Kind, strings.Join(strings.Fields(e.Text), " "))
	}
}
