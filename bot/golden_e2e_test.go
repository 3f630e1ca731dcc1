package bot_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// The golden files of this file hold what the bot sent to Slack, exactly as
// the fake Slack received it (the blocks re-indented), and what it recorded
// in the audit trail and the conversation log, with what changes from run to
// run (IDs, times, timings) replaced by placeholders. Every message is
// checked as Slack would read it (bot.AssertSlackMessage) before it is
// written down.

// transcript collects the messages and records of a flow for a golden file.
type transcript struct {
	b strings.Builder
}

func (tr *transcript) heading(format string, args ...any) {
	fmt.Fprintf(&tr.b, "=== "+format+" ===\n", args...)
}

// call writes down a message the bot sent, after checking it.
func (tr *transcript) call(t *testing.T, what string, c slackfake.Call) {
	t.Helper()
	tr.message(t, what, c.Values.Get("text"), []byte(c.Values.Get("blocks")))
}

// message writes down a message's text and blocks (nil or empty for none),
// after checking them as Slack would read them.
func (tr *transcript) message(t *testing.T, what, text string, blocks []byte) {
	t.Helper()
	payload := map[string]any{"text": text}
	if len(blocks) > 0 {
		payload["blocks"] = json.RawMessage(blocks)
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	bot.AssertSlackMessage(t, raw)
	tr.heading("%s", what)
	fmt.Fprintf(&tr.b, "text: %s\n", text)
	if len(blocks) > 0 {
		fmt.Fprintf(&tr.b, "blocks: %s", readableJSON(t, blocks))
	}
}

// posted writes down a message as the fake Slack holds it after its last
// update.
func (tr *transcript) posted(t *testing.T, what string, m slackfake.Message) {
	t.Helper()
	blocks, err := json.Marshal(m.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	tr.message(t, what, m.Text, blocks)
}

// readableJSON indents raw JSON, in its order, with <, > and & as
// themselves, so that the golden file shows the mrkdwn as Slack reads it.
func readableJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return htmlUnescaper.Replace(b.String()) + "\n"
}

// htmlUnescaper undoes the escapes encoding/json writes for <, > and &.
var htmlUnescaper = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")

// audit writes down audit events, without their time.
func (tr *transcript) audit(t *testing.T, events []conversations.Event) {
	t.Helper()
	tr.heading("audit trail")
	for _, e := range events {
		var fields map[string]any
		raw, _ := json.Marshal(e)
		_ = json.Unmarshal(raw, &fields)
		delete(fields, "time")
		raw, _ = json.Marshal(fields)
		tr.b.WriteString(htmlUnescaper.Replace(string(raw)) + "\n")
	}
}

// log writes down conversation log entries, without their time.
func (tr *transcript) log(entries []conversations.LogEntry) {
	tr.heading("conversation log")
	for _, e := range entries {
		fmt.Fprintf(&tr.b, "%s: %s\n", e.Kind, e.Text)
	}
}

// volatile are what changes from run to run, and what stands for it in a
// golden file. IDs are numbered in order of appearance instead.
var volatile = []struct {
	pattern *regexp.Regexp
	with    string
}{
	{regexp.MustCompile(`\b\d\d:\d\d UTC\b`), "HH:MM UTC"},
	{regexp.MustCompile(`\b\d+ ms\b`), "N ms"},
	// The simulator's metrics draw a wave that moves with the clock.
	{regexp.MustCompile(`[▁▂▃▄▅▆▇█]+ max [0-9.]+`), "▁▂▃ max N"},
}

// volatileID matches the IDs that differ on every run: cvmlogin's
// (conversations.NewID) and the simulator's (inv-…, cmd-…).
var volatileID = regexp.MustCompile(`\b[a-z2-7]{26}\b|\b(inv|cmd)-[a-z0-9]{8}\b`)

// bytes returns the transcript with what varies between runs replaced, each
// distinct ID by "<id-N>" in order of appearance.
func (tr *transcript) bytes() []byte {
	s := tr.b.String()
	for _, v := range volatile {
		s = v.pattern.ReplaceAllString(s, v.with)
	}
	seen := map[string]string{}
	s = volatileID.ReplaceAllStringFunc(s, func(id string) string {
		if _, ok := seen[id]; !ok {
			seen[id] = fmt.Sprintf("<id-%d>", len(seen)+1)
		}
		return seen[id]
	})
	return []byte(s)
}

// mark is how many calls of each method the fake Slack had received at one
// moment, so that the calls after it can be read.
type mark map[string]int

var sentMethods = []string{"chat.postMessage", "chat.update", "chat.postEphemeral", slackfake.MethodResponseURL}

func (w *world) mark() mark {
	m := mark{}
	for _, method := range sentMethods {
		m[method] = len(w.slack.Calls(method))
	}
	return m
}

// sentSince returns the calls after m, in the order they arrived, up to and
// including the first that last accepts (all of them for a nil last).
func (w *world) sentSince(m mark, last func(slackfake.Call) bool) []slackfake.Call {
	var calls []slackfake.Call
	for _, method := range sentMethods {
		calls = append(calls, w.slack.Calls(method)[m[method]:]...)
	}
	slices.SortStableFunc(calls, func(a, b slackfake.Call) int { return a.Time.Compare(b.Time) })
	for i, c := range calls {
		if last != nil && last(c) {
			return calls[:i+1]
		}
	}
	return calls
}

// describeCall says what a call is and where it went, naming the messages of
// names (by ts).
func describeCall(c slackfake.Call, names map[string]string) string {
	where := ""
	switch {
	case c.Method == "chat.update":
		where = " of " + nameOr(names, c.Values.Get("ts"), "a message")
	case c.Values.Get("thread_ts") != "":
		where = " in the thread of " + nameOr(names, c.Values.Get("thread_ts"), "a message")
	}
	if user := c.Values.Get("user"); user != "" {
		where += " to " + user
	}
	return c.Method + where
}

func nameOr(names map[string]string, ts, fallback string) string {
	if name, ok := names[ts]; ok {
		return name
	}
	return fallback
}

// waitThreadCount waits until n replies in thread contain want.
func (w *world) waitThreadCount(t *testing.T, thread, want string, n int) {
	t.Helper()
	w.slack.WaitFor(t, func() bool {
		count := 0
		for _, text := range w.threadTexts(thread) {
			if strings.Contains(text, want) {
				count++
			}
		}
		return count >= n
	}, 30*time.Second)
}

// callLogHeading starts the last thread message of a report's details.
const callLogHeading = "*Cloud API calls:*"

// guestRepairCases are the guest repairs, each on a simulator instance it
// fixes; Restart login service on Linux and on Windows.
var guestRepairCases = []struct {
	name, target, fix string
}{
	{"restart_login_service linux", "ins-portdown", string(diag.FixRestartLoginService)},
	{"restart_login_service windows", "ins-rdpdown1", string(diag.FixRestartLoginService)},
	{"open_guest_firewall and its undo", "ins-guestfw1", string(diag.FixOpenGuestFirewall)},
	{"fix_authorized_keys", "ins-keymode1", string(diag.FixFixAuthorizedKeys)},
	{"enable_rdp", "ins-rdpoff01", string(diag.FixEnableRDP)},
}

// TestGuestRepairMessagesGolden: what the requester, the approvers and the
// channel see of each guest repair, from the press of its button to its
// outcome in the thread, and what the audit trail and the conversation log
// record of it; for the guest firewall, its undo too.
func TestGuestRepairMessagesGolden(t *testing.T) {
	for _, tc := range guestRepairCases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			r := w.replica(t, "r1")
			r.command(t, requester, tc.target)
			report := w.finalReport(t, tc.fix)
			dumpThreadOnFailure(t, w, report.TS)
			var tr transcript
			w.repairFlow(t, r, &tr, report, tc.fix, 1)
			if tc.fix == string(diag.FixOpenGuestFirewall) {
				updated := w.finalReport(t, string(diag.FixUndoGuestFirewall))
				w.repairFlow(t, r, &tr, updated, string(diag.FixUndoGuestFirewall), 2)
			}
			tr.audit(t, w.fixAudit(t, r, tc.target))
			tr.log(w.fixLog(t, r, tc.target))
			bot.AssertGolden(t, tr.bytes(), ".golden.txt")
		})
	}
}

// repairFlow presses fix on report as the requester, approves the request as
// an approver, and writes down every message sent from the press to the
// fix's outcome in the thread. reports is how many reports of the instance
// have been posted, whose details must be in before the press.
func (w *world) repairFlow(t *testing.T, r *replica, tr *transcript, report slackfake.Message, fix string, reports int) {
	t.Helper()
	w.waitThreadCount(t, report.TS, callLogHeading, reports)
	label := diag.FixAction(fix).Label(0)
	before := w.mark()
	value, ok := button(report, fix)
	if !ok {
		t.Fatalf("the report has no %s button", fix)
	}
	r.press(t, requester, fix, value, report.TS)
	var approval slackfake.Message
	w.slack.WaitFor(t, func() bool {
		for _, m := range w.slack.Messages(channel) {
			if _, ok := button(m, bot.ActionApprove); ok && m.ThreadTS == report.TS && strings.Contains(m.Text, label) {
				approval = m
				return true
			}
		}
		return false
	}, 30*time.Second)
	approve, _ := button(approval, bot.ActionApprove)
	r.press(t, approverA, bot.ActionApprove, approve, approval.TS)
	outcome := "*" + label + "* (approved by"
	w.waitThread(t, report.TS, outcome)
	names := map[string]string{report.TS: "the report", approval.TS: "the approval request"}
	for _, c := range w.sentSince(before, func(c slackfake.Call) bool { return strings.Contains(c.Values.Get("text"), outcome) }) {
		tr.call(t, describeCall(c, names), c)
	}
}

// fixAudit waits for the audit trail of the instance's fixes to end with
// an outcome, and returns its fix events.
func (w *world) fixAudit(t *testing.T, r *replica, instanceID string) []conversations.Event {
	t.Helper()
	var fixes []conversations.Event
	w.slack.WaitFor(t, func() bool {
		events, err := r.store.AuditEvents(t.Context(), time.Now().Add(-time.Hour), instanceID)
		if err != nil {
			t.Fatal(err)
		}
		fixes = slices.DeleteFunc(events, func(e conversations.Event) bool { return e.FixRequestID == "" })
		return len(fixes) > 0 && finished(fixes[len(fixes)-1].Action)
	}, 10*time.Second)
	return fixes
}

func finished(action string) bool {
	return action == "fix."+string(diag.FixSucceeded) || action == "fix."+string(diag.FixFailed)
}

// fixLog returns the fix entries of the log of the instance's conversation,
// once the last fix's outcome is in.
func (w *world) fixLog(t *testing.T, r *replica, instanceID string) []conversations.LogEntry {
	t.Helper()
	events, err := r.store.AuditEvents(t.Context(), time.Now().Add(-time.Hour), instanceID)
	if err != nil || len(events) == 0 {
		t.Fatalf("no audit events of %s (%v)", instanceID, err)
	}
	id := events[0].Params["diag_id"]
	var fixes []conversations.LogEntry
	w.slack.WaitFor(t, func() bool {
		entries, err := r.store.Log(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		fixes = slices.DeleteFunc(entries, func(e conversations.LogEntry) bool { return e.Kind != "fix" })
		return len(fixes) > 0 && (strings.Contains(fixes[len(fixes)-1].Text, " succeeded: ") || strings.Contains(fixes[len(fixes)-1].Text, " failed: "))
	}, 10*time.Second)
	return fixes
}

// symptomCases are error messages users paste, one of each family that
// carries advice for their side of the connection, on an instance whose
// report goes with it.
var symptomCases = []struct {
	name, target, symptom string
}{
	{"rdp.authentication_error CredSSP on a healthy instance", "ins-win00001",
		"An authentication error has occurred. The function requested is not supported. This could be due to CredSSP encryption oracle remediation."},
	{"rdp.not_authorized", "ins-win00001",
		"To sign in remotely, you need the right to sign in through Remote Desktop Services. By default, members of the Remote Desktop Users group have this right."},
	{"rdp.no_license_server", "ins-win00001",
		"The remote session was disconnected because there are no Remote Desktop License Servers available to provide a license."},
	{"rdp.cannot_connect with TermService stopped", "ins-rdpdown1",
		"Remote Desktop can't connect to the remote computer for one of these reasons: 1) Remote access to the server is not enabled 2) The remote computer is turned off 3) The remote computer is not available on the network"},
	{"rdp.mac_client with Remote Desktop off", "ins-rdpoff01",
		"We couldn't connect to the remote PC. Make sure the PC is turned on and connected to the network, and that remote access is enabled. Error code: 0x204"},
	{"ssh.host_key_changed", "ins-linux001",
		"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@ @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @ IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY! Host key for 203.0.113.7 has changed and you have requested strict checking. Host key verification failed."},
}

// TestSymptomReportsGolden: the report of a diagnosis asked for with the
// error message the user saw, for each family whose advice is for the
// user's side (Remote Desktop, a changed host key), as the channel sees it.
func TestSymptomReportsGolden(t *testing.T) {
	for _, tc := range symptomCases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			r := w.replica(t, "r1")
			r.command(t, requester, tc.target+" "+tc.symptom)
			var tr transcript
			tr.posted(t, "the report", w.finalReportOf(t, tc.target, bot.ActionRediagnose))
			bot.AssertGolden(t, tr.bytes(), ".golden.txt")
		})
	}
}

// alarmBody is a Cloud Monitor alarm callback for ins-sgdrop01, whose
// security group drops SSH.
const alarmBody = `{"alarmStatus":"1","alarmType":"metric","alarmObjInfo":{"region":"gz","namespace":"qce/cvm","dimensions":{"unInstanceId":"ins-sgdrop01"}},` +
	`"alarmPolicyInfo":{"policyId":"policy-n4exeh88","policyName":"ssh-down","conditions":{"metricName":"lan_outpkg","metricShowName":"Ping unreachable","calcType":">","calcValue":"0","currentValue":"100","calcUnit":"%"}},"firstOccurTime":"2026-11-29 17:00:00"}`

// TestAlarmReportHeaderGolden: the head of the report an alarm starts (the
// header, the instance's facts, the alarm's note and the verdict), posted in
// alarms.channel or in the channel its policy is routed to, and what the
// alarm endpoint answers.
func TestAlarmReportHeaderGolden(t *testing.T) {
	tests := []struct {
		name           string
		defaultChannel string
		policyChannels map[string]string
	}{
		{"default channel", channel, nil},
		{"policy route", "C0DEFAULT9", map[string]string{"policy-n4exeh88": channel}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			r := w.replica(t, "r1", func(o *bot.Options) { o.AlarmChannel = tc.defaultChannel })
			mux := http.NewServeMux()
			bot.NewAlarmHandler(r.bot, bot.AlarmOptions{Token: "alarm-token", PolicyChannels: tc.policyChannels}).Register(mux)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			resp, err := http.Post(srv.URL+bot.AlarmPathTencent+"?token=alarm-token", "application/json", strings.NewReader(alarmBody))
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var tr transcript
			tr.heading("alarm endpoint answer: %d", resp.StatusCode)
			tr.b.Write(answer)
			report := w.finalReport(t, string(diag.FixOpenLoginPort))
			tr.reportHead(t, report)
			bot.AssertGolden(t, tr.bytes(), ".golden.txt")
		})
	}
}

// reportHead writes down the report message's text and its blocks up to the
// verdict, after checking the whole message.
func (tr *transcript) reportHead(t *testing.T, m slackfake.Message) {
	t.Helper()
	var probe transcript
	probe.posted(t, "", m) // checks the whole message
	end := slices.IndexFunc(m.Blocks, func(b json.RawMessage) bool { return bytes.Contains(b, []byte(`"report.verdict"`)) })
	if end < 0 {
		t.Fatal("the report has no verdict")
	}
	m.Blocks = m.Blocks[:end+1]
	tr.posted(t, "the report message, up to its verdict", m)
}

// vncLink matches the console link of the VNC answer; the golden file holds
// a placeholder, since the link is made anew at every press.
var vncLink = regexp.MustCompile(`https://img\.qcloud\.com/qcloud/app/active_vnc/index\.html\?InstanceVncUrl=[^|>\s]+`)

// vncPlaceholder stands for the link in the golden file.
const vncPlaceholder = "https://img.qcloud.com/qcloud/app/active_vnc/index.html?InstanceVncUrl=wss%3A%2F%2FPLACEHOLDER"

// TestVNCAnswersGolden: what Open VNC console answers, each to the presser
// alone: someone who may not open it, an approver when Tencent Cloud gives
// no console, and an approver with the link; and the link goes to that
// approver only: no message in the channel or its thread, no log line, no audit
// event and no conversation log entry holds it or its websocket address.
func TestVNCAnswersGolden(t *testing.T) {
	w := newWorld(t)
	logger, logs := captureLogs(t)
	r := w.replica(t, "r1", withLogger(logger))
	r.command(t, requester, "ins-sgdrop01")
	report := w.finalReport(t, bot.ActionOpenVNC)
	w.waitThreadCount(t, report.TS, callLogHeading, 1)
	value, _ := button(report, bot.ActionOpenVNC)
	before := w.mark()
	r.press(t, outsider, bot.ActionOpenVNC, value, report.TS)
	w.waitEphemeral(t, outsider, "Only approvers")
	w.sim.SetFaultOnce("cvm", "DescribeInstanceVncUrl", "UnauthorizedOperation")
	r.press(t, approverB, bot.ActionOpenVNC, value, report.TS)
	w.waitEphemeral(t, approverB, "did not give a VNC console")
	r.press(t, approverA, bot.ActionOpenVNC, value, report.TS)
	w.waitEphemeral(t, approverA, "active_vnc")

	var tr transcript
	var link string
	for _, c := range w.sentSince(before, nil) {
		text := c.Values.Get("text")
		if found := vncLink.FindString(text); found != "" {
			link = found
			c.Values.Set("text", strings.Replace(text, found, vncPlaceholder, 1))
		}
		tr.call(t, describeCall(c, map[string]string{report.TS: "the report"}), c)
	}
	bot.AssertGolden(t, tr.bytes(), ".golden.txt")
	w.assertNowhereBut(t, r, approverA, link, logs())
}

// assertNowhereBut checks that the VNC link (and its websocket address) was
// sent to user alone, and is in no log line, audit event or conversation
// log entry.
func (w *world) assertNowhereBut(t *testing.T, r *replica, user, link, logs string) {
	t.Helper()
	if link == "" {
		t.Fatal("no VNC link was sent")
	}
	wss, _ := url.QueryUnescape(strings.TrimPrefix(vncLink.FindString(link), "https://img.qcloud.com/qcloud/app/active_vnc/index.html?InstanceVncUrl="))
	secrets := []string{link, wss, wss[strings.Index(wss, "s=")+2:]}
	leaks := func(where, s string) {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("%s holds the VNC link (%q)", where, secret)
			}
		}
	}
	for _, method := range sentMethods {
		for _, c := range w.slack.Calls(method) {
			if method == "chat.postEphemeral" && c.Values.Get("user") == user {
				continue
			}
			leaks(method+" to "+c.Values.Get("channel")+c.Values.Get("user"), fmt.Sprint(c.Values))
		}
	}
	leaks("the log", logs)
	events, err := r.store.AuditEvents(t.Context(), time.Now().Add(-time.Hour), "ins-sgdrop01")
	if err != nil || len(events) == 0 {
		t.Fatalf("no audit events (%v)", err)
	}
	leaks("the audit trail", fmt.Sprint(events))
	entries, err := r.store.Log(t.Context(), events[0].Params["diag_id"])
	if err != nil {
		t.Fatal(err)
	}
	leaks("the conversation log", fmt.Sprint(entries))
}

// TestChannelClosedAnswersGolden: in a channel the bot cannot post in, the
// user who asked is told, through the command's response_url, that the
// report could not be posted; the next command is answered at once.
func TestChannelClosedAnswersGolden(t *testing.T) {
	w := newWorld(t)
	w.slack.Fail("chat.postMessage", "not_in_channel", 100)
	r := w.replica(t, "r1")
	before := w.mark()
	r.command(t, requester, "ins-linux001")
	w.slack.WaitFor(t, func() bool {
		return len(w.slack.Calls(slackfake.MethodResponseURL)) > before[slackfake.MethodResponseURL]
	}, 30*time.Second)
	var tr transcript
	for _, c := range w.slack.Calls(slackfake.MethodResponseURL)[before[slackfake.MethodResponseURL]:] {
		tr.call(t, "response_url ("+c.Values.Get("response_type")+") of the first command", c)
	}
	_, reply := r.command(t, requester, "ins-linux001")
	var ack struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(reply), &ack); err != nil {
		t.Fatalf("the command's answer %q is not JSON: %v", reply, err)
	}
	tr.message(t, "the answer to the next command", ack.Text, nil)
	bot.AssertGolden(t, tr.bytes(), ".golden.txt")
}
