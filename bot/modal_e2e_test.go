package bot_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// verboseSSH is what a user pastes: ssh -v output, the error last.
const verboseSSH = "OpenSSH_9.6p1 Ubuntu-3ubuntu13, OpenSSL 3.0.13 30 Jan 2024\n" +
	"debug1: Connecting to 203.0.113.7 [203.0.113.7] port 22.\n" +
	"debug1: Authentications that can continue: publickey\n" +
	"debug1: Offering public key: /home/me/.ssh/id_ed25519 ED25519 SHA256:abc\n" +
	"ubuntu@203.0.113.7: Permission denied (publickey).\n"

// The symptom family of verboseSSH, as the report and the thread name it.
const (
	publickeyFamily = "ssh.publickey_denied"
	publickeyTitle  = "The server refused the SSH key"
)

// command types /cvm-login text as requester and checks the ack.
func command(t *testing.T, r *replica, text string) {
	t.Helper()
	resp, _ := r.command(t, requester, text)
	mustStatus(t, resp, http.StatusOK)
}

// pressForForm clicks the button action as press does, with a trigger_id
// the fake Slack gave, which the bot can open a form with.
func (r *replica) pressForForm(t testing.TB, user, action, value, ts string) *http.Response {
	t.Helper()
	payload := pressPayload(user, action, value, ts)
	payload["trigger_id"] = r.w.slack.Trigger()
	data, _ := json.Marshal(payload)
	return r.post(t, "/slack/interactions", "application/x-www-form-urlencoded", url.Values{"payload": {string(data)}}.Encode())
}

// submitForm submits the open form viewID as user would, with values by
// input block, edited by tamper when it is not nil, and has the fake apply
// the bot's answer.
func (r *replica) submitForm(t *testing.T, viewID, user string, values map[string]string, tamper func(view map[string]any)) slackfake.View {
	t.Helper()
	payload := r.w.slack.SubmitView(t, viewID, user, values)
	if tamper != nil {
		tamper(payload["view"].(map[string]any))
	}
	data, _ := json.Marshal(payload)
	resp := r.post(t, "/slack/interactions", "application/x-www-form-urlencoded", url.Values{"payload": {string(data)}}.Encode())
	mustStatus(t, resp, http.StatusOK)
	answer, _ := io.ReadAll(resp.Body)
	return r.w.slack.AnswerView(t, viewID, answer)
}

// waitForm waits for the n-th form opened with callback (counting from 1)
// and returns it.
func (w *world) waitForm(t *testing.T, callback string, n int) slackfake.View {
	t.Helper()
	var found slackfake.View
	w.slack.WaitFor(t, func() bool {
		seen := 0
		for _, v := range w.slack.Views() {
			if v.CallbackID == callback {
				if seen++; seen == n {
					found = v
					return true
				}
			}
		}
		return false
	}, 10*time.Second)
	return found
}

// diagIDOf returns the diagnosis a report message belongs to, from its
// metadata.
func diagIDOf(t *testing.T, m slackfake.Message) string {
	t.Helper()
	var meta struct {
		EventPayload map[string]any `json:"event_payload"`
	}
	if err := json.Unmarshal(m.Metadata, &meta); err != nil || meta.EventPayload["diag_id"] == nil {
		t.Fatalf("report %s has no diag_id in its metadata %s: %v", m.TS, m.Metadata, err)
	}
	return meta.EventPayload["diag_id"].(string)
}

// waitSymptomReport waits for the report message ts to show the symptom
// family of verboseSSH, and for its thread to say what was pasted and how
// the re-diagnosis went.
func (w *world) waitSymptomReport(t *testing.T, ts string) {
	t.Helper()
	w.slack.WaitFor(t, func() bool {
		for _, m := range w.slack.Messages(channel) {
			if m.TS == ts && strings.Contains(blocksText(m), "report.symptom") && strings.Contains(blocksText(m), publickeyTitle) {
				return true
			}
		}
		return false
	}, 30*time.Second)
	w.waitThread(t, ts, "`"+publickeyFamily+"`")
	w.waitThread(t, ts, "Re-diagnosis for <@"+requester+">")
}

// TestPasteSymptomEndToEnd: on a report, Paste the error I see opens a
// form; the pasted ssh -v output re-diagnoses the instance in the same
// thread, and the report names the error's family.
func TestPasteSymptomEndToEnd(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	command(t, r, "ins-sgdrop01")
	report := w.finalReportOf(t, "ins-sgdrop01", bot.ActionPasteSymptom)
	dumpThreadOnFailure(t, w, report.TS)
	if strings.Contains(blocksText(report), "report.symptom") {
		t.Fatal("the first report has a symptom nobody gave")
	}

	value, _ := button(report, bot.ActionPasteSymptom)
	mustStatus(t, r.pressForForm(t, requester, bot.ActionPasteSymptom, value, report.TS), http.StatusOK)
	form := w.waitForm(t, bot.CallbackSymptom, 1)
	if form.PrivateMetadata != diagIDOf(t, report) || form.ExternalID == "" || form.Inputs["symptom"].MaxLength != 3000 || !form.Inputs["symptom"].Multiline {
		t.Fatalf("form %+v, want the report's conversation and a multi-line input of 3000", form)
	}

	if after := r.submitForm(t, form.ID, requester, map[string]string{"symptom": verboseSSH}, nil); !after.Closed || len(after.Errors) > 0 {
		t.Fatalf("after the submission the form is %+v, want it closed", after)
	}
	w.waitSymptomReport(t, report.TS)
	if n := w.reportsFor("ins-sgdrop01"); n != 1 {
		t.Errorf("%d reports, want the one re-diagnosed in place", n)
	}
}

// TestPasteSymptomOverSocketMode is TestPasteSymptomEndToEnd over Socket
// Mode: the press's envelope carries the trigger_id, the submission's ack
// carries the answer.
func TestPasteSymptomOverSocketMode(t *testing.T) {
	w := newWorld(t)
	w.replica(t, "r1").serveSocketMode(t)

	w.slack.SendEnvelope(t, "slash_commands", map[string]any{"command": "/cvm-login", "text": "ins-sgdrop01", "user_id": requester, "channel_id": channel}, 0)
	report := w.finalReportOf(t, "ins-sgdrop01", bot.ActionPasteSymptom)
	dumpThreadOnFailure(t, w, report.TS)
	value, _ := button(report, bot.ActionPasteSymptom)
	press := pressPayload(requester, bot.ActionPasteSymptom, value, report.TS)
	delete(press, "trigger_id") // Slack's own, which the fake adds
	w.slack.SendEnvelope(t, "interactive", press, 0)
	form := w.waitForm(t, bot.CallbackSymptom, 1)

	tooLong := strings.Repeat("x", 3001)
	id := w.slack.SendEnvelope(t, "interactive", w.slack.SubmitView(t, form.ID, requester, map[string]string{"symptom": "Permission denied (publickey)."}), 0)
	if after := w.slack.AnswerView(t, form.ID, waitAck(t, w.slack, id)); !after.Closed {
		t.Fatalf("after the submission the form is %+v, want it closed", after)
	}
	w.waitSymptomReport(t, report.TS)

	// Slack's client stops a paste over max_length; a payload that has one
	// anyway is answered with the error under the input.
	w.slack.SendEnvelope(t, "interactive", press, 0)
	again := w.waitForm(t, bot.CallbackSymptom, 2)
	forged := w.slack.SubmitView(t, again.ID, requester, map[string]string{"symptom": "x"})
	forged["view"].(map[string]any)["state"] = map[string]any{"values": map[string]any{"symptom": map[string]any{"symptom_text": map[string]any{"type": "plain_text_input", "value": tooLong}}}}
	id = w.slack.SendEnvelope(t, "interactive", forged, 0)
	if after := w.slack.AnswerView(t, again.ID, waitAck(t, w.slack, id)); after.Closed || !strings.Contains(after.Errors["symptom"], "at most 3000") {
		t.Errorf("a paste of 3001 characters left the form %+v, want it open with the error under the input", after)
	}
}

// waitAck waits for the acknowledgement of envelope id and returns its
// payload.
func waitAck(t *testing.T, fake *slackfake.Server, id string) []byte {
	t.Helper()
	var payload []byte
	fake.WaitFor(t, func() bool {
		for _, a := range fake.Acks() {
			if a.EnvelopeID == id {
				payload = a.Payload
				return true
			}
		}
		return false
	}, 10*time.Second)
	return payload
}

// TestDiagnoseFormEndToEnd: /cvm-login alone opens a form; a mistyped
// instance is pointed out under its input, and the corrected form posts a
// diagnosis, with the error text, in the channel the command came from.
func TestDiagnoseFormEndToEnd(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	body := url.Values{"command": {"/cvm-login"}, "text": {""}, "user_id": {requester}, "channel_id": {channel},
		"team_id": {"T0TEAM"}, "response_url": {w.slack.ResponseURLFor(channel)}, "trigger_id": {w.slack.Trigger()}}.Encode()
	resp := r.post(t, "/slack/commands", "application/x-www-form-urlencoded", body)
	mustStatus(t, resp, http.StatusOK)
	if ack, _ := io.ReadAll(resp.Body); strings.TrimSpace(string(ack)) != "" {
		t.Fatalf("ack %q: the form is the answer", ack)
	}
	form := w.waitForm(t, bot.CallbackDiagnose, 1)
	if form.PrivateMetadata != channel || form.Inputs["target"].Optional || !form.Inputs["symptom"].Optional {
		t.Fatalf("form %+v, want the channel, a required instance and an optional error", form)
	}

	after := r.submitForm(t, form.ID, requester, map[string]string{"target": "ins-SGDROP01"}, nil)
	if after.Closed || !strings.Contains(after.Errors["target"], "not a valid instance ID") {
		t.Fatalf("a mistyped instance left the form %+v, want the error under it", after)
	}
	if after = r.submitForm(t, form.ID, requester, map[string]string{"target": "ins-sgdrop01", "symptom": verboseSSH}, nil); !after.Closed {
		t.Fatalf("the corrected form is %+v, want it closed", after)
	}
	report := w.finalReportOf(t, "ins-sgdrop01", bot.ActionPasteSymptom)
	if text := blocksText(report); !strings.Contains(text, "report.symptom") || !strings.Contains(text, publickeyTitle) {
		t.Errorf("the report does not name the pasted error: %s", text)
	}
}

// TestFormsFallBack: when Slack will not open a form (the trigger expired),
// /cvm-login alone answers with help and the paste button with how to give
// the error in the thread instead.
func TestFormsFallBack(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	late := w.slack.Trigger()
	w.slack.ExpireTriggers()
	body := url.Values{"command": {"/cvm-login"}, "text": {" "}, "user_id": {requester}, "channel_id": {channel}, "trigger_id": {late}}.Encode()
	resp := r.post(t, "/slack/commands", "application/x-www-form-urlencoded", body)
	if ack, _ := io.ReadAll(resp.Body); !strings.Contains(string(ack), "/cvm-login help") {
		t.Errorf("with an expired trigger /cvm-login alone answered %q, want the help", ack)
	}

	command(t, r, "ins-linux001")
	report := w.finalReportOf(t, "ins-linux001", bot.ActionPasteSymptom)
	value, _ := button(report, bot.ActionPasteSymptom)
	mustStatus(t, r.press(t, requester, bot.ActionPasteSymptom, value, report.TS), http.StatusOK) // a trigger_id Slack never gave
	w.waitEphemeral(t, requester, "@cvmlogin ins-linux001 Permission denied (publickey)")
	if n := len(w.slack.Views()); n != 0 {
		t.Errorf("%d forms opened with unusable triggers", n)
	}
}

// TestFormSubmissionsAreVerified: a view_submission without Slack's
// signature is refused, and one whose private_metadata names the
// conversation of another channel is refused with a clear notice; neither
// changes anything.
func TestFormSubmissionsAreVerified(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	const elsewhere = "C0CHANNEL2"
	other := url.Values{"command": {"/cvm-login"}, "text": {"ins-cpuhigh1"}, "user_id": {outsider}, "channel_id": {elsewhere},
		"team_id": {"T0TEAM"}, "trigger_id": {nextTrigger()}}.Encode()
	mustStatus(t, r.post(t, "/slack/commands", "application/x-www-form-urlencoded", other), http.StatusOK)
	command(t, r, "ins-linux001")
	report := w.finalReportOf(t, "ins-linux001", bot.ActionPasteSymptom)
	var otherReport slackfake.Message
	w.slack.WaitFor(t, func() bool {
		for _, m := range w.slack.Messages(elsewhere) {
			if _, ok := button(m, bot.ActionPasteSymptom); ok {
				otherReport = m
				return true
			}
		}
		return false
	}, 30*time.Second)
	value, _ := button(report, bot.ActionPasteSymptom)
	mustStatus(t, r.pressForForm(t, requester, bot.ActionPasteSymptom, value, report.TS), http.StatusOK)
	form := w.waitForm(t, bot.CallbackSymptom, 1)
	before := w.quietEffects(t)

	payload, _ := json.Marshal(w.slack.SubmitView(t, form.ID, requester, map[string]string{"symptom": verboseSSH}))
	unsigned := url.Values{"payload": {string(payload)}}.Encode()
	req := r.signedRequest(t, "/slack/interactions", "application/x-www-form-urlencoded", unsigned, "not-the-signing-secret", time.Now())
	if status, _ := send(t, req, unsigned); status != http.StatusUnauthorized {
		t.Errorf("an unsigned submission got %d, want 401", status)
	}
	w.noSideEffects(t, before)

	foreign := diagIDOf(t, otherReport)
	after := r.submitForm(t, form.ID, requester, map[string]string{"symptom": verboseSSH}, func(view map[string]any) { view["private_metadata"] = foreign })
	if after.Closed || after.Updates != 1 || !strings.Contains(string(after.Blocks[0]), "does not match the report or channel") {
		t.Errorf("a submission naming another channel's conversation left the form %+v, want the notice", after)
	}
	w.noSideEffects(t, before)
	for _, id := range []string{foreign, diagIDOf(t, report)} {
		if c, err := r.store.Conversation(t.Context(), id); err != nil || c.Symptom != "" {
			t.Errorf("conversation %s: symptom %q (%v) after refused submissions", id, c.Symptom, err)
		}
	}
}

// BenchmarkPasteButtonOpensForm measures how much of the trigger's 3 s the
// bot spends between a press of Paste the error I see reaching it and its
// views.open reaching Slack: the acknowledgement, the replay check, the
// button's and conversation's reads and the form's binding in Redis.
func BenchmarkPasteButtonOpensForm(b *testing.B) {
	w := newWorld(b)
	r := w.replica(b, "r1")
	c := conversations.Conversation{ID: conversations.NewID(), Channel: channel, ThreadTS: "1700000000.000100",
		MessageTS: "1700000000.000100", Requester: requester, Target: "ins-linux001"}
	if err := r.store.CreateConversation(b.Context(), c); err != nil {
		b.Fatal(err)
	}
	value, err := r.store.CreateRef(b.Context(), conversations.Ref{Action: bot.ActionPasteSymptom, ConversationID: c.ID, Channel: channel})
	if err != nil {
		b.Fatal(err)
	}
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		r.pressForForm(b, requester, bot.ActionPasteSymptom, value, c.MessageTS)
		var calls []slackfake.Call
		w.slack.WaitFor(b, func() bool { calls = w.slack.Calls("views.open"); return len(calls) == len(took)+1 }, 10*time.Second)
		took = append(took, calls[len(took)].Time.Sub(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "max-ms")
}
