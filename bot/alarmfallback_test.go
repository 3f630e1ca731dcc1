package bot

import (
	"os"
	"strings"
	"testing"

	"github.com/cvmlogin/cvmlogin/conversations"
)

// TestAlarmFallback: where a report goes when the bot cannot post in its
// channel. Only an alarm's job, which has nobody to answer through a
// response_url, falls back, and only to a default alarm channel that is
// configured, another channel, and open.
func TestAlarmFallback(t *testing.T) {
	const routed, def = "C0ROUTED1", "C0DEFAULT1"
	alarm := conversations.Job{Trigger: "Cloud Monitor alarm \"web-cpu\"", Channel: routed}
	command := conversations.Job{Channel: routed, ResponseURL: "https://hooks.slack.com/commands/1"}
	rediagnosis := conversations.Job{Requester: "U0REQUEST1"}
	tests := []struct {
		name          string
		job           conversations.Job
		channel       string
		alarmChannel  string
		defaultClosed bool
		want          string
	}{
		{"an alarm's routed channel is closed", alarm, routed, def, false, def},
		{"the default alarm channel is closed too", alarm, routed, def, true, ""},
		{"no default alarm channel", alarm, routed, "", false, ""},
		{"the closed channel is the default alarm channel", alarm, def, def, false, ""},
		{"a command answers through its response_url", command, routed, def, false, ""},
		{"an alarm with a response_url answers through it", conversations.Job{Trigger: "x", ResponseURL: "https://hooks.slack.com/commands/2"}, routed, def, false, ""},
		{"a re-diagnosis by a button is no alarm", rediagnosis, routed, def, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := alarmFallback(tt.job, tt.channel, tt.alarmChannel, tt.defaultClosed); got != tt.want {
				t.Errorf("alarmFallback = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestReroutedNote: the note names the channel an alarm's report was meant
// for only when its conversation left that channel, and a channel "ID" from
// a webhook that is not shaped like one stays inert text.
func TestReroutedNote(t *testing.T) {
	const mentionNote = "\n:warning: This report was meant for <#C0ROUTED1>,"
	tests := []struct {
		name    string
		c       conversations.Conversation
		j       conversations.Job
		contain string
		absent  string
	}{
		{"moved", conversations.Conversation{Channel: "C0DEFAULT1", Trigger: "a"}, conversations.Job{Trigger: "a", Channel: "C0ROUTED1"}, mentionNote, ""},
		{"in its routed channel", conversations.Conversation{Channel: "C0ROUTED1", Trigger: "a"}, conversations.Job{Trigger: "a", Channel: "C0ROUTED1"}, "", "meant for"},
		{"a re-diagnosis names no channel", conversations.Conversation{Channel: "C0DEFAULT1", Trigger: "a"}, conversations.Job{Requester: "U0REQUEST1"}, "", "meant for"},
		{"a webhook's odd channel", conversations.Conversation{Channel: "C0DEFAULT1", Trigger: "a"}, conversations.Job{Trigger: "a", Channel: "<!channel>"}, `meant for "&lt;!channel&gt;"`, "<!channel>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			note := reportView(tt.c, tt.j, securityGroupBlocks22(), nil, nil, true).Note
			if tt.contain != "" && !strings.Contains(note, tt.contain) {
				t.Errorf("note %q does not contain %q", note, tt.contain)
			}
			if tt.absent != "" && strings.Contains(note, tt.absent) {
				t.Errorf("note %q contains %q", note, tt.absent)
			}
		})
	}
}

// TestAlarmFallbackHeaderGolden pins the report's header of a Cloud Monitor
// alarm routed by tag to a channel the bot cannot post in, as posted in the
// default alarm channel instead.
func TestAlarmFallbackHeaderGolden(t *testing.T) {
	body, err := os.ReadFile("testdata/alarms/tencent-cpu.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := parseTencentAlarm(body)
	if err != nil {
		t.Fatal(err)
	}
	a = NewAlarmHandler(&fakeStarter{}, AlarmOptions{TagChannels: map[string]string{"env=prod": "C0PROD"}, Tags: &fakeTagger{tags: map[string]string{"env": "prod"}}}).route(t.Context(), a)
	c := conversations.Conversation{Channel: "C0ALARMS", Target: a.InstanceID, Trigger: a.Summary}
	j := conversations.Job{Channel: a.Channel, Target: a.InstanceID, Trigger: a.Summary}
	r := securityGroupBlocks22()
	view := reportView(c, j, r, nil, buttonValues(ButtonsFor(r)), true)
	blocks := RenderReport(view)
	got := marshalMessage(t, message{Text: ReportFallbackText(r), Blocks: blocks})
	assertGolden(t, got, ".golden.json")
	assertSlackParses(t, got, len(blocks))
}
