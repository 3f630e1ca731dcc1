package slackfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

func TestAuth(t *testing.T) {
	fake := slackfake.New(t)
	tests := []struct {
		name    string
		token   string
		wantErr string // "" for success
	}{
		{"bot token", slackfake.BotToken, ""},
		{"wrong token", "xoxb-wrong", "invalid_auth"},
		{"app token is not a bot token", slackfake.AppToken, "invalid_auth"},
		{"no token", "", "not_authed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := slack.New(tt.token, slack.OptionAPIURL(fake.URL()))
			resp, err := api.AuthTestContext(t.Context())
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("AuthTest error = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("AuthTest: %v", err)
			}
			if resp.UserID != slackfake.BotUserID || resp.TeamID != slackfake.TeamID {
				t.Errorf("AuthTest = %+v, want the fake bot", resp)
			}
		})
	}
}

func TestBearerTokenInJSONBody(t *testing.T) {
	fake := slackfake.New(t)
	body := `{"channel":"C1","text":"hi","blocks":[{"type":"divider"},{"type":"section","text":{"type":"mrkdwn","text":"x"}}],"unfurl_links":false}`
	for _, token := range []string{slackfake.BotToken, "xoxb-wrong"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, fake.URL()+"chat.postMessage", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var answer struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&answer)
		resp.Body.Close()
		if wantOK := token == slackfake.BotToken; answer.OK != wantOK {
			t.Errorf("token %s: ok = %v (%s), want %v", token, answer.OK, answer.Error, wantOK)
		}
	}
	calls := fake.Calls("chat.postMessage")
	if len(calls) != 2 {
		t.Fatalf("recorded %d calls, want 2", len(calls))
	}
	if got := calls[0].Values.Get("unfurl_links"); got != "false" {
		t.Errorf("flattened unfurl_links = %q, want false", got)
	}
	if len(calls[0].Blocks) != 2 || !strings.Contains(string(calls[0].Blocks[1]), `"section"`) {
		t.Errorf("Blocks = %s, want the divider and the section", calls[0].Blocks)
	}
	if msgs := fake.Messages("C1"); len(msgs) != 1 || msgs[0].Text != "hi" {
		t.Errorf("Messages = %+v, want the one accepted post", msgs)
	}
}

func TestMessages(t *testing.T) {
	fake := slackfake.New(t)
	api := fake.Client()
	ctx := t.Context()
	channel, parent, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("diagnosing", false),
		slack.MsgOptionBlocks(slack.NewDividerBlock()))
	if err != nil {
		t.Fatal(err)
	}
	if channel != "C1" || parent != "1700000000.000100" {
		t.Errorf("PostMessage = %s %s, want C1 1700000000.000100", channel, parent)
	}
	_, reply, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("log", false), slack.MsgOptionTS(parent))
	if err != nil {
		t.Fatal(err)
	}
	if reply <= parent {
		t.Errorf("reply ts %s is not after the parent's %s", reply, parent)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", parent, slack.MsgOptionText("done", false)); err != nil {
		t.Fatal(err)
	}
	if _, err := api.PostEphemeralContext(ctx, "C1", "U1", slack.MsgOptionText("only you", false)); err != nil {
		t.Fatal(err)
	}

	got := fake.Messages("C1")
	want := []slackfake.Message{
		{Channel: "C1", TS: parent, Text: "done", Updates: 1}, // the update dropped the blocks
		{Channel: "C1", TS: reply, ThreadTS: parent, Text: "log"},
	}
	if len(got) != len(want) {
		t.Fatalf("Messages = %+v, want %+v", got, want)
	}
	for i := range want {
		if g := got[i]; g.Channel != want[i].Channel || g.TS != want[i].TS || g.ThreadTS != want[i].ThreadTS ||
			g.Text != want[i].Text || g.Updates != want[i].Updates || len(g.Blocks) != 0 {
			t.Errorf("Messages[%d] = %+v, want %+v", i, g, want[i])
		}
	}
	if eph := fake.Calls("chat.postEphemeral"); len(eph) != 1 || eph[0].Values.Get("user") != "U1" {
		t.Errorf("postEphemeral calls = %+v, want one for U1", eph)
	}
}

func TestMessageErrors(t *testing.T) {
	fake := slackfake.New(t)
	api := fake.Client()
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"update of an unknown message", func() error {
			_, _, _, err := api.UpdateMessageContext(ctx, "C1", "1.2", slack.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
		{"post without text or blocks", func() error {
			_, _, err := api.PostMessageContext(ctx, "C1")
			return err
		}, "no_text"},
		{"post of 51 blocks", func() error {
			blocks := make([]slack.Block, 51)
			for i := range blocks {
				blocks[i] = slack.NewDividerBlock()
			}
			_, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionBlocks(blocks...))
			return err
		}, "invalid_blocks"},
		{"post without channel", func() error {
			_, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionText("x", false))
			return err
		}, "channel_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestUploadFile(t *testing.T) {
	fake := slackfake.New(t)
	content := "2026-11-28T04:18:31Z cvm:DescribeInstances 200 41ms\n"
	summary, err := fake.Client().UploadFileContext(t.Context(), slack.UploadFileParameters{
		Filename: "calls.log", FileSize: len(content), Content: content,
		Title: "Call log", Channel: "C1", ThreadTimestamp: "1700000000.000100",
	})
	if err != nil {
		t.Fatalf("UploadFile: %v", err)
	}
	files := fake.Files()
	if len(files) != 1 {
		t.Fatalf("Files = %+v, want one", files)
	}
	f := files[0]
	if f.ID != summary.ID || f.Title != "Call log" || f.Filename != "calls.log" || f.Channel != "C1" ||
		f.ThreadTS != "1700000000.000100" || string(f.Content) != content {
		t.Errorf("Files[0] = %+v (content %q)", f, f.Content)
	}
	if n := len(fake.Calls(slackfake.MethodUpload)); n != 1 {
		t.Errorf("recorded %d uploads, want 1", n)
	}
}

func TestGroupMembers(t *testing.T) {
	fake := slackfake.New(t)
	fake.SetGroupMembers("S1", "U1", "U2")
	fake.SetGroupMembers("S2")
	fake.FailGroup("S3", "missing_scope")
	fake.FailGroup("S4", "paid_teams_only")
	api := fake.Client()
	tests := []struct {
		group   string
		want    []string
		wantErr string
	}{
		{"S1", []string{"U1", "U2"}, ""},
		{"S2", nil, ""},
		{"S3", nil, "missing_scope"},
		{"S4", nil, "paid_teams_only"},
		{"S5", nil, "no_such_subteam"},
	}
	for _, tt := range tests {
		t.Run(tt.group, func(t *testing.T) {
			got, err := api.GetUserGroupMembersContext(t.Context(), tt.group)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("members = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestUserInfo(t *testing.T) {
	fake := slackfake.New(t)
	u, err := fake.Client().GetUserInfoContext(t.Context(), "U123")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "U123" || u.Name != "u123" || u.IsBot {
		t.Errorf("user = %+v", u)
	}
}

func TestFaults(t *testing.T) {
	fake := slackfake.New(t)
	fake.RateLimit("chat.update", 1, 1500*time.Millisecond)
	fake.Fail("chat.update", "ratelimited", 2)
	api := fake.Client()
	ctx := t.Context()
	_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false))
	if err != nil {
		t.Fatal(err)
	}
	update := func() error {
		_, _, _, err := api.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText("y", false))
		return err
	}

	var limited *slack.RateLimitedError
	if err := update(); !errors.As(err, &limited) || limited.RetryAfter != 2*time.Second {
		t.Errorf("first update: %v, want a rate limit with Retry-After 2s", err)
	}
	for i := range 2 {
		if err := update(); err == nil || err.Error() != "ratelimited" {
			t.Errorf("update %d: %v, want ratelimited", i+2, err)
		}
	}
	if err := update(); err != nil {
		t.Errorf("update after the faults ran out: %v", err)
	}
	if n := len(fake.Calls("chat.update")); n != 4 {
		t.Errorf("recorded %d chat.update calls, want 4", n)
	}
}

func TestSocketMode(t *testing.T) {
	fake := slackfake.New(t)
	conn := dialSocket(t, fake)
	defer conn.Close()
	var hello struct{ Type string }
	if err := conn.ReadJSON(&hello); err != nil || hello.Type != "hello" {
		t.Fatalf("first message = %+v, %v; want hello", hello, err)
	}

	payload := map[string]string{"command": "/cvm-login", "text": "ins-abc12345"}
	id := fake.SendEnvelope(t, "slash_commands", payload, 0)
	var env struct {
		EnvelopeID             string            `json:"envelope_id"`
		Type                   string            `json:"type"`
		Payload                map[string]string `json:"payload"`
		AcceptsResponsePayload bool              `json:"accepts_response_payload"`
	}
	if err := conn.ReadJSON(&env); err != nil {
		t.Fatal(err)
	}
	if env.EnvelopeID != id || env.Type != "slash_commands" || env.Payload["text"] != "ins-abc12345" || !env.AcceptsResponsePayload {
		t.Errorf("envelope = %+v", env)
	}
	if err := conn.WriteJSON(map[string]any{"envelope_id": id, "payload": map[string]string{"text": "ok"}}); err != nil {
		t.Fatal(err)
	}
	fake.WaitFor(t, func() bool { return len(fake.Acks()) == 1 }, 5*time.Second)
	if ack := fake.Acks()[0]; ack.EnvelopeID != id || string(ack.Payload) != `{"text":"ok"}` {
		t.Errorf("ack = %+v", ack)
	}

	if again := fake.SendEnvelope(t, "slash_commands", payload, 1); again != id {
		t.Errorf("redelivery envelope ID = %s, want the original %s", again, id)
	}
	if other := fake.SendEnvelope(t, "slash_commands", payload, 0); other == id {
		t.Errorf("a new delivery reused envelope ID %s", id)
	}

	fake.DropConnection()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			break // the server side is gone
		}
	}
	again := dialSocket(t, fake)
	defer again.Close()
	if err := again.ReadJSON(&hello); err != nil || hello.Type != "hello" {
		t.Fatalf("first message after reconnecting = %+v, %v; want hello", hello, err)
	}
	if n := fake.Connections(); n != 2 {
		t.Errorf("Connections = %d, want 2", n)
	}
}

func TestSocketModeNeedsAppToken(t *testing.T) {
	fake := slackfake.New(t)
	_, _, err := slack.New(slackfake.BotToken, slack.OptionAPIURL(fake.URL()), slack.OptionAppLevelToken(slackfake.BotToken)).
		StartSocketModeContext(t.Context())
	if err == nil || err.Error() != "invalid_auth" {
		t.Errorf("apps.connections.open with a bot token: %v, want invalid_auth", err)
	}
}

// dialSocket opens a Socket Mode connection to fake the way slack-go does.
// The caller closes it.
func dialSocket(t *testing.T, fake *slackfake.Server) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, wsURL, err := fake.Client().StartSocketModeContext(ctx)
	if err != nil {
		t.Fatalf("apps.connections.open: %v", err)
	}
	if !strings.HasPrefix(wsURL, "ws://127.0.0.1:") {
		t.Errorf("Socket Mode URL %s is not on loopback", wsURL)
	}
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, wsURL, http.Header{"Origin": {"https://api.slack.com"}})
	if err != nil {
		t.Fatalf("dialing %s: %v", wsURL, err)
	}
	resp.Body.Close()
	return conn
}

func TestCleanupLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	var conn *websocket.Conn // outlives the server
	t.Run("busy server", func(t *testing.T) {
		fake := slackfake.New(t)
		conn = dialSocket(t, fake)
		fake.SendEnvelope(t, "events_api", map[string]string{"type": "event_callback"}, 0)
		if _, err := fake.Client().AuthTestContext(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
	if conn == nil {
		t.FailNow()
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var err error
	for err == nil {
		_, _, err = conn.ReadMessage() // hello, the envelope, then the end
	}
	if netErr, ok := errors.AsType[net.Error](err); ok && netErr.Timeout() {
		t.Errorf("the connection outlived the server's cleanup: %v", err)
	}
	slackfake.WaitFor(t, func() bool { return runtime.NumGoroutine() <= before }, 5*time.Second)
}
