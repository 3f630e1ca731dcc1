package bot_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/bot/slackio"
	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencent"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

const (
	signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	channel       = "C0CHANNEL1"
	requester     = "U0REQUEST1"
	approverA     = "U0APPROVEA"
	approverB     = "U0APPROVEB"
	outsider      = "U0OUTSIDER"
)

// world is what a bot replica talks to: fake Slack, the simulator, Redis.
// Several replicas (bots) can share one world.
type world struct {
	slack  *slackfake.Server
	sim    *tencentsim.Sim
	simAt  string // the simulator's endpoint
	client *tencent.Client
	rdb    redis.UniversalClient
	prefix string
	skew   atomic.Int64 // how far the replicas' clocks are ahead, in ns
	// replicaRedis, when it has a replica's name, is the client of the same
	// Redis that replica uses instead of rdb: closing it kills the replica
	// as far as the shared state can tell.
	replicaRedis map[string]redis.UniversalClient
}

// now is the replicas' clock: real time plus the skew a test advanced.
func (w *world) now() time.Time { return time.Now().Add(time.Duration(w.skew.Load())) }

// advance moves the replicas' clock forward, e.g. past an approval window.
func (w *world) advance(d time.Duration) { w.skew.Add(int64(d)) }

func newWorld(t testing.TB) *world {
	t.Helper()
	return newWorldOn(t, redistest.New(t))
}

// newWorldOn is newWorld with the replicas' Redis given.
func newWorldOn(t testing.TB, rdb redis.UniversalClient) *world {
	t.Helper()
	w := &world{slack: slackfake.New(t)}
	w.sim = tencentsim.New(tencentsim.Options{RebootDuration: 50 * time.Millisecond})
	endpoint, err := w.sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.sim.Close)
	w.simAt = endpoint
	w.client, err = tencent.New(tencent.Config{Region: "ap-guangzhou", Endpoint: endpoint, Scheme: "http",
		SecretID: tencentsim.TestSecretID, SecretKey: tencentsim.TestSecretKey, RetryBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w.rdb = rdb
	w.prefix = redistest.KeyPrefix(t, w.rdb)
	return w
}

// replica is one running bot: its Bot, job workers and HTTP endpoints.
type replica struct {
	w     *world
	bot   *bot.Bot
	store *conversations.Store
	http  *httptest.Server
	stop  func()
}

type replicaOption func(*bot.Options)

func fourEyes(on bool) replicaOption { return func(o *bot.Options) { o.FourEyes = on } }

func (w *world) replica(t testing.TB, name string, opts ...replicaOption) *replica {
	t.Helper()
	rdb := w.rdb
	if c, ok := w.replicaRedis[name]; ok {
		rdb = c
	}
	store := conversations.New(rdb, conversations.Options{Prefix: w.prefix, Now: w.now})
	diagnoser := diag.NewDiagnoser(w.client, diag.Options{Region: "ap-guangzhou", PortProbe: true, ProbeTimeout: 200 * time.Millisecond,
		GuestChecks: true, GuestPoll: 10 * time.Millisecond, Dialer: w.sim.Dialer()})
	fixer := diag.NewFixer(w.client, w.client, diag.FixerOptions{PollInterval: 20 * time.Millisecond, WatchTimeout: 10 * time.Second})
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("CVMLOGIN_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("replica", name)
	}
	o := bot.Options{Logger: logger, DefaultRegion: "ap-guangzhou", Approvers: []string{approverA, approverB}, FourEyes: true,
		UpdateInterval: 50 * time.Millisecond, PostInterval: 10 * time.Millisecond, UpdateEvery: 10 * time.Millisecond, ExpirySweep: 50 * time.Millisecond, DeliveryTTL: 5 * time.Second, Replica: name, Workers: 4, Now: w.now, VNC: w.client,
		Watch: w.watcher(diag.WatchOptions{Interval: 20 * time.Millisecond, MaxInterval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond, Deadline: 5 * time.Second, GuestPoll: 5 * time.Millisecond})}
	for _, opt := range opts {
		opt(&o)
	}
	r := &replica{w: w, store: store}
	r.bot = bot.New(w.slack.Client(), store, diagnoser, fixer, o)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		r.bot.Run(ctx, store.Worker(conversations.WorkerOptions{Block: 100 * time.Millisecond, ClaimIdle: 500 * time.Millisecond}))
	})
	srv := slackio.NewHTTPServer(r.bot, slackio.HTTPOptions{Verifier: slackio.Verifier{Secret: signingSecret}, SlackRoutes: true})
	r.http = httptest.NewServer(srv.Handler())
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			r.http.Close()
			cancel()
			wg.Wait()
		})
	}
	t.Cleanup(r.stop)
	return r
}

// requestSeq numbers the requests the tests send, so that no two are the
// same request (Slack's carry distinct trigger_ids and action_ts), which the
// replay cache would drop.
var requestSeq atomic.Int64

// nextTrigger returns a trigger_id no other request carries.
func nextTrigger() string { return strconv.FormatInt(requestSeq.Add(1), 10) + ".2.3" }

// post sends a signed Slack request to one of the replica's routes.
func (r *replica) post(t testing.TB, route, contentType, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.http.URL+route, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(slackio.HeaderTimestamp, ts)
	req.Header.Set(slackio.HeaderSignature, slackio.Sign(signingSecret, ts, []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// command types /cvm-login text as user and returns the ack and its body.
func (r *replica) command(t *testing.T, user, text string) (*http.Response, string) {
	t.Helper()
	resp := r.post(t, "/slack/commands", "application/x-www-form-urlencoded", r.w.commandForm(user, text))
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// commandForm is the slash command request of user typing text.
func (w *world) commandForm(user, text string) string {
	return url.Values{"command": {"/cvm-login"}, "text": {text}, "user_id": {user}, "channel_id": {channel},
		"team_id": {"T0TEAM"}, "response_url": {w.slack.ResponseURLFor(channel)}, "trigger_id": {nextTrigger()}}.Encode()
}

// press clicks the button action on the message ts as user.
func (r *replica) press(t *testing.T, user, action, value, ts string) *http.Response {
	t.Helper()
	return r.post(t, "/slack/interactions", "application/x-www-form-urlencoded", pressForm(user, action, value, ts))
}

// pressForm is the interaction request of user clicking the button action
// on the message ts.
func pressForm(user, action, value, ts string) string {
	data, _ := json.Marshal(pressPayload(user, action, value, ts))
	return url.Values{"payload": {string(data)}}.Encode()
}

// pressPayload is the block_actions payload of user clicking the button
// action on the message ts.
func pressPayload(user, action, value, ts string) map[string]any {
	return map[string]any{
		"type": "block_actions", "trigger_id": nextTrigger(), "user": map[string]any{"id": user}, "channel": map[string]any{"id": channel},
		"team": map[string]any{"id": "T0TEAM"}, "message": map[string]any{"ts": ts, "type": "message"},
		"container": map[string]any{"type": "message", "message_ts": ts, "channel_id": channel},
		"actions":   []map[string]any{{"action_id": action, "block_id": "b", "value": value, "type": "button"}},
	}
}

// mention sends an app_mention event.
func (r *replica) mention(t *testing.T, eventID, user, text, ts, threadTS string) *http.Response {
	t.Helper()
	ev := map[string]any{"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel, "event_ts": ts}
	if threadTS != "" {
		ev["thread_ts"] = threadTS
	}
	data, _ := json.Marshal(map[string]any{"type": "event_callback", "event_id": eventID, "team_id": "T0TEAM", "event": ev})
	return r.post(t, "/slack/events", "application/json", string(data))
}

// button finds the value of the button action_id in a message's blocks.
func button(m slackfake.Message, actionID string) (string, bool) {
	for _, raw := range m.Blocks {
		var b struct {
			Elements []struct {
				ActionID string `json:"action_id"`
				Value    string `json:"value"`
			} `json:"elements"`
		}
		_ = json.Unmarshal(raw, &b)
		for _, e := range b.Elements {
			if e.ActionID == actionID {
				return e.Value, true
			}
		}
	}
	return "", false
}

// blocksText is a message's blocks as one string, for assertions.
func blocksText(m slackfake.Message) string {
	var sb strings.Builder
	for _, b := range m.Blocks {
		sb.Write(b)
	}
	return sb.String()
}

// finalReport waits for the top-level report message with the given action
// button and returns it.
func (w *world) finalReport(t *testing.T, withButton string) slackfake.Message {
	t.Helper()
	return w.finalReportOf(t, "", withButton)
}

// finalReportOf is finalReport for the report about target ("" for any).
func (w *world) finalReportOf(t *testing.T, target, withButton string) slackfake.Message {
	t.Helper()
	var found slackfake.Message
	w.slack.WaitFor(t, func() bool {
		for _, m := range w.slack.Messages(channel) {
			if _, ok := button(m, withButton); ok && m.ThreadTS == "" && strings.Contains(m.Text, target) {
				found = m
				return true
			}
		}
		return false
	}, 30*time.Second)
	return found
}

// threadTexts returns the texts of the replies in thread.
func (w *world) threadTexts(thread string) []string {
	var out []string
	for _, m := range w.slack.Messages(channel) {
		if m.ThreadTS == thread {
			out = append(out, m.Text+blocksText(m))
		}
	}
	return out
}

// waitThread waits for a reply in thread containing want.
func (w *world) waitThread(t *testing.T, thread, want string) string {
	t.Helper()
	var hit string
	w.slack.WaitFor(t, func() bool {
		for _, text := range w.threadTexts(thread) {
			if strings.Contains(text, want) {
				hit = text
				return true
			}
		}
		return false
	}, 30*time.Second)
	return hit
}

// ephemerals returns the ephemeral texts shown to user.
func (w *world) ephemerals(user string) []string {
	var out []string
	for _, c := range w.slack.Calls("chat.postEphemeral") {
		if c.Values.Get("user") == user {
			out = append(out, c.Values.Get("text"))
		}
	}
	return out
}

// waitEphemeral waits for an ephemeral message to user containing want.
func (w *world) waitEphemeral(t *testing.T, user, want string) {
	t.Helper()
	w.slack.WaitFor(t, func() bool {
		for _, text := range w.ephemerals(user) {
			if strings.Contains(text, want) {
				return true
			}
		}
		return false
	}, 30*time.Second)
}

func mustStatus(t *testing.T, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, want, body)
	}
}

// dumpThreadOnFailure logs the thread and the ephemerals if t fails, to
// show what the bot said instead.
func dumpThreadOnFailure(t *testing.T, w *world, thread string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, text := range w.threadTexts(thread) {
			t.Log("thread: " + text[:min(len(text), 300)])
		}
		for _, user := range []string{requester, approverA, approverB, outsider} {
			t.Logf("ephemerals to %s: %q", user, w.ephemerals(user))
		}
	})
}

// watcher watches login ports through the simulator's dialer and TAT, fast.
func (w *world) watcher(opts diag.WatchOptions) *diag.Watcher {
	return &diag.Watcher{Dialer: w.sim.Dialer(), Guest: w.client, Options: opts}
}
