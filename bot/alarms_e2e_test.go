package bot_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/bot/slackio"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// TestAlarmRoutedByTag: a Cloud Monitor alarm for an instance tagged
// env=prod, sent to the bot's HTTP listener, is diagnosed in the channel
// alarms.tag_channels gives env=prod, with the alarm and its route in the
// report's header; the default alarm channel gets nothing.
func TestAlarmRoutedByTag(t *testing.T) {
	const prodChannel = "C0PRODOPS1"
	w := newWorld(t)
	sc := tencentsim.DefaultScenario()
	sc.ID, sc.PublicIPs, sc.Tags = "ins-tagprod1", []string{"127.0.0.201"}, map[string]string{"env": "prod", "team": "web"}
	if err := w.sim.AddScenario(sc); err != nil {
		t.Fatal(err)
	}
	r := w.replica(t, "r1", func(o *bot.Options) { o.AlarmChannel = channel })
	alarms := bot.NewAlarmHandler(r.bot, bot.AlarmOptions{Token: "alarm-token", Rate: 1000, Burst: 1000, TagChannels: map[string]string{"env=prod": prodChannel},
		Tags: diag.NewTagReader(w.client, "ap-guangzhou", nil, 0)})
	srv := httptest.NewServer(slackio.NewHTTPServer(r.bot, slackio.HTTPOptions{Verifier: slackio.Verifier{Secret: signingSecret}, Routes: alarms.Register}).Handler())
	defer srv.Close()

	body := `{"alarmStatus":"1","alarmType":"metric","alarmObjInfo":{"region":"gz","namespace":"qce/cvm","dimensions":{"unInstanceId":"ins-tagprod1"}},` +
		`"alarmPolicyInfo":{"policyId":"policy-unrouted","policyName":"web-cpu","conditions":{"metricShowName":"CPU utilization","calcType":">","calcValue":"90","calcUnit":"%","currentValue":"97"}}}`
	alarm := func() (status string) {
		resp, err := http.Post(srv.URL+bot.AlarmPathTencent+"?token=alarm-token", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		mustStatus(t, resp, http.StatusAccepted)
		var res bot.AlarmResult
		_ = json.NewDecoder(resp.Body).Decode(&res)
		return res.Status
	}
	reports := func() (final []slackfake.Message) {
		for _, m := range w.slack.Messages(prodChannel) {
			if _, ok := button(m, bot.ActionRediagnose); ok && m.ThreadTS == "" {
				final = append(final, m)
			}
		}
		return final
	}
	alarm()
	w.slack.WaitFor(t, func() bool { return len(reports()) == 1 }, 30*time.Second)
	header := blocksText(reports()[0])
	for _, want := range []string{`:rotating_light: Cloud Monitor alarm \"web-cpu\": CPU utilization \u0026gt; 90% (now 97%)`, "routed here by its tag env=prod"} {
		if !strings.Contains(header, want) {
			t.Errorf("the report's header lacks %s:\n%s", want, header)
		}
	}
	if n := len(w.slack.Messages(channel)); n != 0 {
		t.Errorf("the default alarm channel got %d messages", n)
	}

	// The alarm fires again: its route is remembered, so only the diagnosis
	// reads the instance.
	lookups := w.sim.CallCount("cvm", "DescribeInstances")
	w.slack.WaitFor(t, func() bool { return alarm() == bot.AlarmQueued }, 30*time.Second) // once the first run has let go
	w.slack.WaitFor(t, func() bool { return len(reports()) == 2 }, 30*time.Second)
	if n := w.sim.CallCount("cvm", "DescribeInstances") - lookups; n != 1 {
		t.Errorf("the second alarm made %d DescribeInstances calls, want 1 (the diagnosis's)", n)
	}
}
