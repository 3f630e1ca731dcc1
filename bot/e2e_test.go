package bot_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// TestSlashCommandEndToEnd follows one engineer's /cvm-login through HTTP
// mode: a fast ack, the report message with its verdict and buttons, the
// details in its thread, and the export uploaded there.
func TestSlashCommandEndToEnd(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")

	start := time.Now()
	resp, body := r.command(t, requester, "ins-sgdrop01")
	mustStatus(t, resp, http.StatusOK)
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Fatalf("ack took %s", elapsed)
	}
	if strings.TrimSpace(body) != "" {
		t.Fatalf("ack body %q: the report message itself is the answer", body)
	}

	report := w.finalReport(t, "open_all_ports")
	text := blocksText(report)
	for _, want := range []string{"Likely cause", "Security group blocks TCP 22", "open_login_port", "rediagnose", "export_report"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if _, ok := button(report, "restart_instance"); ok {
		t.Error("a security-group problem should not offer Restart")
	}
	if report.Updates != 0 || strings.Contains(report.Text, "Diagnosing") {
		t.Error("a diagnosis done within a second or two needs no placeholder: post the report itself")
	}
	w.waitThread(t, report.TS, "security_group.login_port")
	w.waitThread(t, report.TS, "DescribeInstances")

	value, _ := button(report, "export_report")
	mustStatus(t, r.press(t, requester, "export_report", value, report.TS), http.StatusOK)
	w.slack.WaitFor(t, func() bool { return len(w.slack.Files()) == 2 }, 30*time.Second)
	for _, f := range w.slack.Files() {
		if f.ThreadTS != report.TS || !strings.HasPrefix(f.Filename, "cvmlogin-ins-sgdrop01-") {
			t.Errorf("file %q in thread %q, want cvmlogin-ins-sgdrop01-* in %q", f.Filename, f.ThreadTS, report.TS)
		}
		if !strings.Contains(string(f.Content), "security_group.login_port") {
			t.Errorf("%s lacks the findings", f.Filename)
		}
	}
}

// TestMentionDiagnosesIntoTheIncidentThread: @cvmlogin inside a thread
// posts the report into that thread, once even if Slack retries the event.
func TestMentionDiagnosesIntoTheIncidentThread(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	const incident = "1699999999.000100"
	for range 2 { // Slack retries events it thinks were lost
		mustStatus(t, r.mention(t, "Ev0001", requester, "<@U0BOT> ins-cpuhigh1", "1699999999.000200", incident), http.StatusOK)
	}
	w.slack.WaitFor(t, func() bool {
		for _, m := range w.slack.Messages(channel) {
			if _, ok := button(m, "restart_instance"); ok && m.ThreadTS == incident {
				return true
			}
		}
		return false
	}, 30*time.Second)
	w.waitThread(t, incident, "load.cpu")
	reports := 0
	for _, m := range w.slack.Messages(channel) {
		if strings.Contains(m.Text, "ins-cpuhigh1") && m.ThreadTS == incident && strings.Contains(blocksText(m), "report.header") {
			reports++
		}
	}
	if reports != 1 {
		t.Fatalf("%d report messages in the incident thread, want 1", reports)
	}
}

// TestBadCommandsGetClearReplies: mistakes are answered to the user alone,
// with a correct example, and start nothing.
func TestBadCommandsGetClearReplies(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	for text, want := range map[string]string{
		"":                                   "ins-abc12345",
		"ins-ABC":                            "not a valid instance ID",
		"i-0abc1234":                         "AWS or Alibaba",
		"ins-linux001 --force":               "--force",
		"ins-linux001 ap-guangzhou --port 0": "port",
		"help":                               "/cvm-login",
	} {
		resp, body := r.command(t, requester, text)
		mustStatus(t, resp, http.StatusOK)
		if !strings.Contains(body, want) || !strings.Contains(body, `"ephemeral"`) {
			t.Errorf("%q: reply %s, want an ephemeral mentioning %q", text, body, want)
		}
	}
	if n := len(w.slack.Calls("chat.postMessage")); n != 0 {
		t.Fatalf("bad commands posted %d messages", n)
	}
}

// TestBotNotInChannelSaysSo: the first-run surprise. Slack refuses the
// report because nobody invited the bot; the user is told how to fix it,
// with the verdict, once, and the next command there is answered at once
// without holding a worker for a diagnosis nobody can see.
func TestBotNotInChannelSaysSo(t *testing.T) {
	w := newWorld(t)
	w.slack.Fail("chat.postMessage", "not_in_channel", 1)
	r := w.replica(t, "r1")
	r.command(t, requester, "ins-linux001")
	w.slack.WaitFor(t, func() bool {
		for _, c := range w.slack.Calls(slackfake.MethodResponseURL) {
			if strings.Contains(c.Values.Get("text"), "/invite @cvmlogin") && c.Values.Get("response_type") == "ephemeral" {
				return true
			}
		}
		return false
	}, 30*time.Second)
	if n := len(w.slack.Calls("chat.postMessage")); n != 1 {
		t.Fatalf("chat.postMessage called %d times: not_in_channel is not worth retrying", n)
	}
	diagnosed := w.sim.CallCount("cvm", "DescribeInstances")
	_, body := r.command(t, requester, "ins-linux002")
	if !strings.Contains(body, "/invite @cvmlogin") {
		t.Fatalf("second command in the closed channel answered %q", body)
	}
	time.Sleep(200 * time.Millisecond)
	if n := w.sim.CallCount("cvm", "DescribeInstances"); n != diagnosed {
		t.Fatalf("diagnosed again (%d DescribeInstances, was %d) in a channel the bot cannot post in", n, diagnosed)
	}
}
