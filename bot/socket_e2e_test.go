package bot_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/bot/slackio"
)

// TestSocketModeEndToEnd is TestSlashCommandEndToEnd over Socket Mode: the
// same bot behind a real websocket, a redelivered envelope handled once.
func TestSocketModeEndToEnd(t *testing.T) {
	w := newWorld(t)
	w.replica(t, "r1").serveSocketMode(t)

	command := map[string]any{"command": "/cvm-login", "text": "ins-sgdrop01", "user_id": requester, "channel_id": channel, "team_id": "T0TEAM"}
	id := w.slack.SendEnvelope(t, "slash_commands", command, 0)
	w.slack.SendEnvelope(t, "slash_commands", command, 1) // Slack redelivers after a reconnect
	w.slack.WaitFor(t, func() bool {
		acks := 0
		for _, a := range w.slack.Acks() {
			if a.EnvelopeID == id {
				acks++
			}
		}
		return acks == 2
	}, 5*time.Second)

	report := w.finalReportOf(t, "ins-sgdrop01", "open_all_ports")
	w.waitThread(t, report.TS, "security_group.login_port")
	if n := w.reportsFor("ins-sgdrop01"); n != 1 {
		t.Fatalf("%d reports, want 1: the redelivered envelope must not diagnose again", n)
	}

	value, _ := button(report, "export_report")
	w.slack.SendEnvelope(t, "interactive", map[string]any{
		"type": "block_actions", "user": map[string]any{"id": requester}, "channel": map[string]any{"id": channel},
		"message": map[string]any{"ts": report.TS}, "actions": []map[string]any{{"action_id": "export_report", "block_id": "b", "value": value}},
	}, 0)
	w.slack.WaitFor(t, func() bool { return len(w.slack.Files()) == 2 }, 30*time.Second)

	w.slack.SendEnvelope(t, "slash_commands", map[string]any{"command": "/cvm-login", "text": "ins-BAD", "user_id": requester, "channel_id": channel}, 0)
	w.slack.WaitFor(t, func() bool {
		for _, a := range w.slack.Acks() {
			if strings.Contains(string(a.Payload), "not a valid instance ID") {
				return true
			}
		}
		return false
	}, 5*time.Second)
}

// serveSocketMode connects r's bot to the fake Slack over Socket Mode until
// the test ends.
func (r *replica) serveSocketMode(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = slackio.NewSocketClient(r.w.slack.Client(), r.bot, slackio.SocketOptions{}).Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}
