package bot_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
)

// TestEveryScenarioRendersWithinSlackLimits diagnoses every simulator
// scenario and checks the report message, in progress and final, and every
// thread message against Slack's limits.
func TestEveryScenarioRendersWithinSlackLimits(t *testing.T) {
	w := newWorld(t)
	d := diag.NewDiagnoser(w.client, diag.Options{Region: "ap-guangzhou", PortProbe: true, ProbeTimeout: 100 * time.Millisecond,
		GuestChecks: true, GuestPoll: 10 * time.Millisecond, Dialer: w.sim.Dialer()})
	for _, sc := range tencentsim.Builtin() {
		t.Run(sc.ID, func(t *testing.T) {
			target, _ := diag.ParseTarget(sc.ID)
			r, err := d.Diagnose(context.Background(), diag.Request{Target: target})
			if err != nil {
				t.Fatal(err)
			}
			buttons := map[string]string{}
			for _, action := range append(bot.ButtonsFor(r), string(diag.FixUndoOpenPorts)) {
				buttons[action] = strings.Repeat("v", 26)
			}
			for _, view := range []bot.ReportView{
				{Report: r, Requester: requester, Final: true, Buttons: buttons, Note: "Re-diagnosed for <@U1>"},
				{Report: r, Requester: requester, Pending: []diag.CheckID{diag.CheckGuestDisk}},
			} {
				if err := bot.ValidateBlocks(bot.RenderReport(view)); err != nil {
					t.Errorf("final=%v: %v", view.Final, err)
				}
			}
			for _, text := range append(bot.FindingDetails(r), bot.CallLog(r)) {
				if n := len([]rune(text)); n > 3000 || n == 0 {
					t.Errorf("a thread message has %d characters", n)
				}
			}
			if sc.ExpectLikelyCause != "" && !strings.Contains(bot.ReportFallbackText(r), "likely cause") {
				t.Errorf("fallback text %q does not give the likely cause", bot.ReportFallbackText(r))
			}
		})
	}
}

// TestSlackOutageLosesNoReport: Slack rate limits and fails the bot's calls
// for a while; the finished report still arrives.
func TestSlackOutageLosesNoReport(t *testing.T) {
	w := newWorld(t)
	w.slack.RateLimit("chat.postMessage", 2, 200*time.Millisecond)
	w.slack.Fail("chat.update", "internal_error", 3)
	r := w.replica(t, "r1")
	resp, _ := r.command(t, requester, "ins-cpuhigh1")
	mustStatus(t, resp, http.StatusOK)
	report := w.finalReportOf(t, "ins-cpuhigh1", "restart_instance")
	w.waitThread(t, report.TS, "load.cpu")
}

// TestChannelsOutsideAccessListAreRefused: with access.allowed_channels set,
// elsewhere the bot explains and does nothing.
func TestChannelsOutsideAccessListAreRefused(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1", func(o *bot.Options) { o.AllowedChannels = []string{"C0ELSEWHERE"} })
	_, body := r.command(t, requester, "ins-linux001")
	if !strings.Contains(body, "not enabled in this channel") {
		t.Fatalf("reply %s", body)
	}
	r.mention(t, "Ev0002", requester, "<@U0BOT> ins-linux001", "1699999999.000300", "")
	w.waitEphemeral(t, requester, "not enabled in this channel")
	if n := len(w.slack.Calls("chat.postMessage")); n != 0 {
		t.Fatalf("%d messages posted in a channel the bot may not answer in", n)
	}
}
