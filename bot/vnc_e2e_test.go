package bot_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/bot"
)

// TestOpenVNCAnswersTheApproverAlone: a report whose login path is broken
// offers Open VNC console; an approver's press is answered, to them alone,
// with a one-time console link made at press time; anyone else is refused;
// the link never reaches the channel or the audit trail.
func TestOpenVNCAnswersTheApproverAlone(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	r.command(t, requester, "ins-sgdrop01")
	report := w.finalReport(t, bot.ActionOpenVNC)
	value, _ := button(report, bot.ActionOpenVNC)

	r.press(t, outsider, bot.ActionOpenVNC, value, report.TS)
	w.waitEphemeral(t, outsider, "Only approvers")
	r.press(t, approverA, bot.ActionOpenVNC, value, report.TS)
	w.waitEphemeral(t, approverA, "https://img.qcloud.com/qcloud/app/active_vnc/index.html?InstanceVncUrl=wss%3A%2F%2F")
	if n := w.sim.CallCount("cvm", "DescribeInstanceVncUrl"); n != 1 {
		t.Errorf("DescribeInstanceVncUrl called %d times, want 1 (the refused press must not call it)", n)
	}
	for _, method := range []string{"chat.postMessage", "chat.update"} {
		for _, c := range w.slack.Calls(method) {
			if strings.Contains(c.Values.Encode(), "active_vnc") || strings.Contains(fmt.Sprint(c.Blocks), "active_vnc") {
				t.Fatalf("the VNC link was sent with %s", method)
			}
		}
	}
	events, err := r.store.AuditEvents(t.Context(), time.Now().Add(-time.Hour), "ins-sgdrop01")
	if err != nil {
		t.Fatal(err)
	}
	var opened int
	for _, e := range events {
		if e.Action == bot.ActionOpenVNC {
			opened++
			if strings.Contains(fmt.Sprint(e), "wss") {
				t.Errorf("the audit event holds the link: %+v", e)
			}
		}
	}
	if opened != 1 {
		t.Errorf("%d open_vnc audit events, want 1", opened)
	}
}

// TestNoVNCForAHealthyInstance: nothing is broken on the way in, so the
// report has no VNC button.
func TestNoVNCForAHealthyInstance(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	r.command(t, requester, "ins-linux001")
	report := w.finalReport(t, bot.ActionRediagnose)
	if _, ok := button(report, bot.ActionOpenVNC); ok {
		t.Error("a healthy instance's report offers the VNC console")
	}
}

// TestAlarmPostsADiagnosis: a Cloud Monitor alarm callback for an instance
// posts its diagnosis in alarms.channel, with the alarm in its note, through
// the real bot, Redis, simulator and Slack fake; a second alarm for the same
// instance is coalesced, and no fix is requested.
func TestAlarmPostsADiagnosis(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1", func(o *bot.Options) { o.AlarmChannel = channel })
	mux := http.NewServeMux()
	bot.NewAlarmHandler(r.bot, bot.AlarmOptions{Token: "alarm-token"}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	body := `{"alarmStatus":"1","alarmType":"metric","alarmObjInfo":{"region":"gz","namespace":"qce/cvm","dimensions":{"unInstanceId":"ins-sgdrop01"}},` +
		`"alarmPolicyInfo":{"policyId":"policy-n4exeh88","policyName":"ssh-down","conditions":{"metricName":"lan_outpkg","metricShowName":"Ping unreachable"}},"firstOccurTime":"2026-11-29 17:00:00"}`
	post := func() (int, bot.AlarmResult) {
		resp, err := http.Post(srv.URL+bot.AlarmPathTencent+"?token=alarm-token", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var res bot.AlarmResult
		_ = json.NewDecoder(resp.Body).Decode(&res)
		return resp.StatusCode, res
	}
	if code, res := post(); code != http.StatusAccepted || res.Status != bot.AlarmQueued {
		t.Fatalf("alarm answered %d %+v, want 202 queued", code, res)
	}
	// The same alarm again, while the first is queued or running.
	if code, res := post(); code != http.StatusAccepted || res.Status != bot.AlarmCoalesced {
		t.Errorf("the second alarm answered %d %+v, want 202 coalesced", code, res)
	}
	report := w.finalReport(t, "open_login_port")
	if text := blocksText(report); !strings.Contains(text, "ssh-down") || !strings.Contains(text, "Ping unreachable") {
		t.Errorf("the report does not name the alarm:\n%s", text)
	}
	if n := w.sim.CallCount("vpc", "CreateSecurityGroupPolicies") + w.sim.CallCount("cvm", "RebootInstances"); n != 0 {
		t.Errorf("an alarm changed the cloud (%d calls)", n)
	}
}
