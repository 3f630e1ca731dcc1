package bot_test

// The security suite: attacks on the HTTP transport and the approval flow,
// sent through the real HTTP endpoints of a replica backed by real Redis, the
// Tencent simulator and the Slack fake. Every refused attack must leave no
// side effect: no Tencent call, no message posted, no fix request created.
// Run it with: go test -run TestSecurity ./bot/

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/bot/slackio"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
	"github.com/cvmlogin/cvmlogin/internal/metrics"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// settle is how long a test waits for the asynchronous handling of a request
// it expects to have no visible effect.
const settle = 300 * time.Millisecond

// effects counts what a request can change.
type effects struct {
	tencentCalls int // every call the simulator received
	posts        int // chat.postMessage and chat.update calls
	fixRequests  int // fix request records in Redis
}

func (w *world) effects(t *testing.T) effects {
	t.Helper()
	keys, err := w.rdb.Keys(t.Context(), w.prefix+"fix:{*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return effects{len(w.sim.Calls()), len(w.slack.Calls("chat.postMessage")) + len(w.slack.Calls("chat.update")), len(keys)}
}

// quietEffects waits until nothing changes for a while (a report's thread is
// complete), and returns the effects then.
func (w *world) quietEffects(t *testing.T) effects {
	t.Helper()
	last := w.effects(t)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(settle / 2)
		now := w.effects(t)
		if now == last {
			return now
		}
		last = now
	}
	t.Fatal("the world never went quiet")
	return last
}

// noSideEffects waits for asynchronous handling to settle, then checks that
// nothing changed since before.
func (w *world) noSideEffects(t *testing.T, before effects) {
	t.Helper()
	time.Sleep(settle)
	if after := w.effects(t); after != before {
		t.Fatalf("side effects: before %+v, after %+v", before, after)
	}
}

// signedRequest builds a request to route carrying body, signed with secret
// at the time at.
func (r *replica) signedRequest(t *testing.T, route, contentType, body, secret string, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.http.URL+route, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(slackio.HeaderTimestamp, ts)
	req.Header.Set(slackio.HeaderSignature, slackio.Sign(secret, ts, []byte(body)))
	return req
}

// send sends req, or a copy of it with the same headers and body when it was
// sent before, and returns the answer's status and body.
func send(t *testing.T, req *http.Request, body string) (int, string) {
	t.Helper()
	again := req.Clone(t.Context())
	again.Body = io.NopCloser(strings.NewReader(body))
	resp, err := http.DefaultClient.Do(again)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

const formType = "application/x-www-form-urlencoded"

// interact sends the interaction payload, signed, as Slack would.
func (r *replica) interact(t *testing.T, payload map[string]any) *http.Response {
	t.Helper()
	data, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return r.post(t, "/slack/interactions", formType, url.Values{"payload": {string(data)}}.Encode())
}

// reportWithRestart has r diagnose ins-cpuhigh1, whose CPU is saturated so
// that Restart is offered, and returns the report and its Restart value.
func (r *replica) reportWithRestart(t *testing.T) (slackfake.Message, string) {
	t.Helper()
	r.command(t, requester, "ins-cpuhigh1")
	report := r.w.finalReport(t, "restart_instance")
	restart, _ := button(report, "restart_instance")
	return report, restart
}

func TestSecurityUnverifiedRequestsHaveNoEffect(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	report, restart := r.reportWithRestart(t)
	now := time.Now()
	pad := "&pad=" + strings.Repeat("x", slackio.DefaultMaxBody)
	tests := []struct {
		name       string
		mutate     func(req *http.Request)
		secret     string
		at         time.Time
		pad        string
		wantStatus int
	}{
		{"forged with another secret", nil, "not-the-signing-secret", now, "", http.StatusUnauthorized},
		{"stale, 6 minutes old", nil, signingSecret, now.Add(-6 * time.Minute), "", http.StatusUnauthorized},
		{"future-dated by 6 minutes", nil, signingSecret, now.Add(6 * time.Minute), "", http.StatusUnauthorized},
		{"oversized, signed", nil, signingSecret, now, pad, http.StatusRequestEntityTooLarge},
		{"no signature", func(req *http.Request) { req.Header.Del(slackio.HeaderSignature) }, signingSecret, now, "", http.StatusUnauthorized},
		{"truncated signature", func(req *http.Request) {
			req.Header.Set(slackio.HeaderSignature, req.Header.Get(slackio.HeaderSignature)[:20])
		}, signingSecret, now, "", http.StatusUnauthorized},
		{"timestamp moved", func(req *http.Request) {
			req.Header.Set(slackio.HeaderTimestamp, strconv.FormatInt(now.Unix()-1, 10))
		}, signingSecret, now, "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := w.quietEffects(t)
			for _, req := range []struct{ route, body string }{
				{"/slack/commands", w.commandForm(requester, "ins-linux001") + tt.pad},
				{"/slack/interactions", pressForm(approverA, "restart_instance", restart, report.TS) + tt.pad},
			} {
				signed := r.signedRequest(t, req.route, formType, req.body, tt.secret, tt.at)
				if tt.mutate != nil {
					tt.mutate(signed)
				}
				if status, body := send(t, signed, req.body); status != tt.wantStatus {
					t.Errorf("%s answered %d %q, want %d", req.route, status, body, tt.wantStatus)
				}
			}
			w.noSideEffects(t, before)
		})
	}
}

// TestSecurityReplayedRequestsAreRefused: a verified request sent again
// within the 5-minute window (as is, or with its signature's hex digits in
// upper case) is answered 200 and does nothing: no second diagnosis, no
// second approval request.
func TestSecurityReplayedRequestsAreRefused(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	commandBody := w.commandForm(requester, "ins-cpuhigh1")
	command := r.signedRequest(t, "/slack/commands", formType, commandBody, signingSecret, time.Now())
	if status, _ := send(t, command, commandBody); status != http.StatusOK {
		t.Fatalf("command answered %d", status)
	}
	report := w.finalReport(t, "restart_instance")
	restart, _ := button(report, "restart_instance")
	pressBody := pressForm(requester, "restart_instance", restart, report.TS)
	press := r.signedRequest(t, "/slack/interactions", formType, pressBody, signingSecret, time.Now())
	if status, _ := send(t, press, pressBody); status != http.StatusOK {
		t.Fatalf("press answered %d", status)
	}
	w.waitThread(t, report.TS, "asks to")
	dumpThreadOnFailure(t, w, report.TS)
	w.slack.WaitFor(t, func() bool { return w.effects(t).fixRequests == 1 }, 5*time.Second)

	before := w.quietEffects(t)
	for _, replay := range []struct {
		name string
		req  *http.Request
		body string
	}{
		{"command", command, commandBody},
		{"press", press, pressBody},
		{"command, signature in upper case", upperSignature(command), commandBody},
		{"press, signature in upper case", upperSignature(press), pressBody},
	} {
		if status, body := send(t, replay.req, replay.body); status != http.StatusOK || body != "" {
			t.Errorf("replayed %s answered %d %q, want an empty 200", replay.name, status, body)
		}
	}
	w.noSideEffects(t, before)
	if n := w.reportsFor("ins-cpuhigh1"); n != 1 {
		t.Errorf("%d reports, want 1", n)
	}
}

// upperSignature returns a copy of req whose signature has its hex digits in
// upper case: the same MAC, spelled differently.
func upperSignature(req *http.Request) *http.Request {
	c := req.Clone(req.Context())
	sig := c.Header.Get(slackio.HeaderSignature)
	c.Header.Set(slackio.HeaderSignature, "v0="+strings.ToUpper(strings.TrimPrefix(sig, "v0=")))
	return c
}

// TestSecurityPayloadWithManyActions: one interaction payload carrying 200
// fix presses is not a click; it is refused whole, without a Slack call.
func TestSecurityPayloadWithManyActions(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	report, restart := r.reportWithRestart(t)
	var actions []map[string]any
	for range 200 {
		actions = append(actions, map[string]any{"action_id": "restart_instance", "block_id": "b", "value": restart, "type": "button"})
	}
	payload := pressPayload(requester, "restart_instance", restart, report.TS)
	payload["actions"] = actions
	before, ephemerals := w.quietEffects(t), len(w.slack.Calls("chat.postEphemeral"))
	mustStatus(t, r.interact(t, payload), http.StatusOK)
	w.noSideEffects(t, before)
	if n := len(w.slack.Calls("chat.postEphemeral")) - ephemerals; n != 0 {
		t.Errorf("%d ephemeral messages sent, want none", n)
	}
}

// TestSecurityTamperedButtonValues: a button value that does not exist, or
// that belongs to another button, is refused with an answer and no effect.
func TestSecurityTamperedButtonValues(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	report, restart := r.reportWithRestart(t)
	rediagnose, _ := button(report, "rediagnose")
	tests := []struct{ name, action, value, channel string }{
		{"unknown value", "restart_instance", "aaaaaaaaaaaaaaaaaaaaaaaaaa", channel},
		{"empty value", "restart_instance", "", channel},
		{"an instance ID as value", "restart_instance", "ins-cpuhigh1", channel},
		{"another button's value", "restart_instance", rediagnose, channel},
		{"a restart value on open_all_ports", "open_all_ports", restart, channel},
		{"a fix value on approve", "approve", restart, channel},
		{"a value pressed in another channel", "restart_instance", restart, "C0OTHER"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := "U0TAMPER" + strconv.Itoa(i)
			before := w.quietEffects(t)
			payload := pressPayload(user, tt.action, tt.value, report.TS)
			payload["channel"] = map[string]any{"id": tt.channel}
			mustStatus(t, r.interact(t, payload), http.StatusOK)
			w.waitEphemeral(t, user, "nothing was done")
			w.noSideEffects(t, before)
		})
	}
}

// TestSecurityApprovalRules: the requester cannot approve their own fix
// (four-eyes), a non-approver cannot approve, and an expired request cannot
// be approved; none of them reboots anything.
func TestSecurityApprovalRules(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	_, approval := requestFix(t, w, r, "ins-cpuhigh1", "restart_instance", requester)
	approve, _ := button(approval, "approve")
	for _, tt := range []struct{ user, want string }{
		{requester, "four-eyes"},
		{outsider, "Only approvers"},
	} {
		before := w.quietEffects(t)
		mustStatus(t, r.press(t, tt.user, "approve", approve, approval.TS), http.StatusOK)
		w.waitEphemeral(t, tt.user, tt.want)
		w.noSideEffects(t, before)
	}
	w.advance(16 * time.Minute) // past the 15-minute approval window
	before := w.quietEffects(t)
	mustStatus(t, r.press(t, approverA, "approve", approve, approval.TS), http.StatusOK)
	w.waitEphemeral(t, approverA, "expired")
	time.Sleep(settle)
	if n := w.sim.CallCount("cvm", "RebootInstances"); n != 0 {
		t.Fatalf("RebootInstances called %d times, want 0", n)
	}
	if after := w.effects(t); after.tencentCalls != before.tencentCalls || after.fixRequests != before.fixRequests {
		t.Fatalf("side effects: before %+v, after %+v", before, after)
	}
}

// hostileTexts are command texts a user could type to make the bot mention
// everyone, impersonate someone, link elsewhere or garble its message, each
// in a place the bot's answer quotes back.
var hostileTexts = []string{
	"ins-<!channel>",
	"<!here> *bold* _it_ ~s~ `code`",
	"ins-abc12345 ap-<@U0OUTSIDER>",
	"ins-abc12345 --port <#C0OTHER>",
	"ins-abc12345 -p <https://evil.example|click>",
	"ins-abc\x00\x07\x1b[31m\u202e",
}

// TestSecurityHostileTextEchoedEscaped: whatever a command or a mention
// echoes back, it echoes escaped: no mention, no link, no control character.
func TestSecurityHostileTextEchoedEscaped(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	before := w.quietEffects(t)
	for i, text := range hostileTexts {
		_, body := r.command(t, requester, text)
		var ack struct{ Text string }
		if err := json.Unmarshal([]byte(body), &ack); err != nil || ack.Text == "" {
			t.Fatalf("%q: ack %q, want a JSON reply (%v)", text, body, err)
		}
		mustBeInert(t, "command reply", ack.Text)
		user := "U0HOSTILE" + strconv.Itoa(i)
		mustStatus(t, r.mention(t, "EvHostile"+strconv.Itoa(i), user, "<@"+slackfake.BotUserID+"> "+text, "1700000000.000100", ""), http.StatusOK)
		w.waitEphemeral(t, user, "")
		for _, reply := range w.ephemerals(user) {
			mustBeInert(t, "mention reply", reply)
		}
	}
	w.noSideEffects(t, before)
}

// mustBeInert fails unless text, shown as mrkdwn, can neither notify nor
// link anyone, nor carry control characters.
func mustBeInert(t *testing.T, what, text string) {
	t.Helper()
	for _, bad := range []string{"<!channel>", "<!here>", "<@U0OUTSIDER>", "<#C0OTHER>", "<https://evil.example", "\x00", "\x07", "\x1b", "\u202e"} {
		if strings.Contains(text, bad) {
			t.Errorf("%s contains %q: %q", what, bad, text)
		}
	}
}

// TestSecurityNoSecretInAnyOutput: with recognisable secrets configured, a
// session of commands, refusals, a failed diagnosis, a fix and an export
// leaves none of them in a log line, an HTTP answer, a Slack message, an
// exported file or a metric.
func TestSecurityNoSecretInAnyOutput(t *testing.T) {
	w := newWorld(t)
	logger, logs := captureLogs(t)
	m := metrics.New()
	r := w.replica(t, "r1", withLogger(logger), withMetrics(m)).with(t, slackio.HTTPOptions{Logger: logger})
	metricsSrv := httptest.NewServer(m.Handler())
	t.Cleanup(metricsSrv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			lines := strings.Split(logs(), "\n")
			t.Log("last log lines:\n" + strings.Join(lines[max(0, len(lines)-80):], "\n"))
		}
	})

	var answers []string
	collect := func(_ int, body string) { answers = append(answers, body) }
	collect(send(t, r.signedRequest(t, "/slack/commands", formType, "text=x", "wrong-secret", time.Now()), "text=x"))
	_, body := r.command(t, requester, "ins-cpuhigh1")
	answers = append(answers, body)
	report, approval := requestFix(t, w, r, "ins-cpuhigh1", "restart_instance", requester)
	approve, _ := button(approval, "approve")
	r.press(t, approverA, "approve", approve, approval.TS)
	w.waitThread(t, report.TS, "what changed")
	export, _ := button(report, "export_report")
	r.press(t, requester, "export_report", export, report.TS)
	w.slack.WaitFor(t, func() bool { return len(w.slack.Files()) > 0 }, 30*time.Second)
	w.sim.SetFault("cvm", "DescribeInstances", "AuthFailure.SignatureFailure")
	_, body = r.command(t, requester, "ins-linux001")
	answers = append(answers, body)
	w.finalReportOf(t, "ins-linux001", "rediagnose")

	outputs := map[string]string{"logs": logs(), "HTTP answers": strings.Join(answers, "\n"), "metrics": scrape(t, metricsSrv.URL)}
	for _, method := range []string{"chat.postMessage", "chat.update", "chat.postEphemeral", slackfake.MethodResponseURL, "files.completeUploadExternal"} {
		for _, c := range w.slack.Calls(method) {
			c.Values.Del("token") // the client's credential, sent to Slack itself
			outputs["Slack "+method] += c.Values.Encode() + blocksOf(c)
		}
	}
	for _, f := range w.slack.Files() {
		outputs["exported "+f.Filename] = string(f.Content)
	}
	if len(outputs) < 8 || logs() == "" {
		t.Fatalf("too little output captured to check: %d outputs", len(outputs))
	}
	for name, out := range outputs {
		for _, secret := range []string{signingSecret, slackfake.BotToken, tencentSecretKey} {
			if strings.Contains(out, secret) {
				t.Errorf("%s contains the secret %.6s…", name, secret)
			}
		}
	}
}

func blocksOf(c slackfake.Call) string {
	var sb strings.Builder
	for _, b := range c.Blocks {
		sb.Write(b)
	}
	return sb.String()
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

// tencentSecretKey is the simulator's secret key, which the replicas sign
// their Tencent Cloud calls with.
const tencentSecretKey = tencentsim.TestSecretKey

func withLogger(l *slog.Logger) replicaOption { return func(o *bot.Options) { o.Logger = l } }

// captureLogs returns a debug-level logger writing to a file, and a function
// returning what was logged so far.
func captureLogs(t *testing.T) (*slog.Logger, func() string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	read := func() string {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})), read
}

// with returns r served by another HTTP transport, built with opts (its
// Verifier and SlackRoutes set as the replica's).
func (r *replica) with(t *testing.T, opts slackio.HTTPOptions) *replica {
	t.Helper()
	opts.Verifier, opts.SlackRoutes = slackio.Verifier{Secret: signingSecret}, true
	srv := httptest.NewServer(slackio.NewHTTPServer(r.bot, opts).Handler())
	t.Cleanup(srv.Close)
	c := *r
	c.http = srv
	return &c
}
