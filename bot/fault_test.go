package bot_test

// The fault suite, transport level: Redis frozen, killed and restarted, Slack
// failing the answers, clocks apart. Each case asserts the invariants: every
// user action gets an answer, and nothing unapproved runs.
// Run it with: go test -run TestFault ./bot/

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/bot/slackio"
	"github.com/cvmlogin/cvmlogin/internal/logging"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// freezer is a TCP proxy in front of Redis that can stop passing bytes on,
// as a Redis stuck in a slow command, or cut off by the network, does.
type freezer struct {
	ln     net.Listener
	target string
	frozen atomic.Bool
	wg     sync.WaitGroup
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: target}
	f.wg.Go(f.accept)
	t.Cleanup(func() {
		f.frozen.Store(false)
		ln.Close()
		f.wg.Wait()
	})
	return f
}

func (f *freezer) addr() string { return f.ln.Addr().String() }

func (f *freezer) accept() {
	for {
		client, err := f.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", f.target)
		if err != nil {
			client.Close()
			continue
		}
		f.wg.Go(func() { f.pipe(server, client) })
		f.wg.Go(func() { f.pipe(client, server) })
	}
}

// pipe copies src to dst, holding what it read while f is frozen.
func (f *freezer) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for f.frozen.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// storm has n users, U0PRESS00 and on, press the button action at once.
func storm(t *testing.T, r *replica, n int, action, value, ts string) []string {
	t.Helper()
	users := make([]string, n)
	var wg sync.WaitGroup
	for i := range users {
		users[i] = fmt.Sprintf("U0PRESS%02d", i)
		wg.Go(func() { mustStatus(t, r.press(t, users[i], action, value, ts), http.StatusOK) })
	}
	wg.Wait()
	return users
}

// waitAnswered waits until every user got an answer: an ephemeral message,
// or a message in thread naming them.
func (w *world) waitAnswered(t *testing.T, thread string, users []string) {
	t.Helper()
	unanswered := func() []string {
		var out []string
		texts := strings.Join(w.threadTexts(thread), "\n")
		for _, u := range users {
			if len(w.ephemerals(u)) == 0 && !strings.Contains(texts, "<@"+u+">") {
				out = append(out, u)
			}
		}
		return out
	}
	deadline := time.Now().Add(20 * time.Second)
	for left := unanswered(); len(left) > 0; left = unanswered() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d presses got no answer: %v", len(left), len(users), left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pressDeadline is the asynchronous handling deadline of the replicas in the
// press storms: shorter than the production 10 s, to keep the tests fast.
const pressDeadline = time.Second

func withPostInterval(d time.Duration) replicaOption {
	return func(o *bot.Options) { o.PostInterval = d }
}

// TestFaultEveryPressAnsweredInAPacedChannel: 50 users press Restart at once.
// Their approval requests queue for the channel's one-post-a-second pacer
// longer than the handling deadline; every press still gets an answer.
func TestFaultEveryPressAnsweredInAPacedChannel(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1", withPostInterval(time.Second)).with(t, slackio.HTTPOptions{AsyncTimeout: pressDeadline})
	report, restart := r.reportWithRestart(t)
	w.quietEffects(t)

	users := storm(t, r, 50, "restart_instance", restart, report.TS)
	w.waitAnswered(t, report.TS, users)
	for _, u := range users {
		for _, text := range w.ephemerals(u) {
			if !strings.Contains(text, "too busy") {
				t.Errorf("%s was told %q, want that the bot is busy", u, text)
			}
		}
	}
	if n := w.sim.CallCount("cvm", "RebootInstances"); n != 0 {
		t.Fatalf("RebootInstances called %d times without an approval", n)
	}
}

// TestFaultEveryPressAnsweredWhileRedisFrozen: Redis stops answering; 50
// users press Restart at once. Every press is answered once the handling's
// deadline is spent, and nothing is requested or run.
func TestFaultEveryPressAnsweredWhileRedisFrozen(t *testing.T) {
	redis.SetLogger(logging.Printf{Logger: slog.New(slog.DiscardHandler)}) // timeouts are expected here
	f := newFreezer(t, redistest.Addr(t))
	rdb := redis.NewClient(&redis.Options{Addr: f.addr(), ReadTimeout: pressDeadline, WriteTimeout: pressDeadline, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	w := newWorldOn(t, rdb)
	r := w.replica(t, "r1").with(t, slackio.HTTPOptions{AsyncTimeout: pressDeadline})
	report, restart := r.reportWithRestart(t)
	before := w.quietEffects(t)

	f.frozen.Store(true)
	users := storm(t, r, 50, "restart_instance", restart, report.TS)
	w.waitAnswered(t, report.TS, users)
	f.frozen.Store(false)
	if after := w.effects(t); after.fixRequests != before.fixRequests || w.sim.CallCount("cvm", "RebootInstances") != 0 {
		t.Fatalf("side effects while Redis was frozen: before %+v, after %+v", before, after)
	}
}

// privateRedis starts a Redis server of the test's own, which it may kill
// (stop) and start again empty (restart), and returns a client to it that
// gives up fast while it is down.
func privateRedis(t *testing.T) (rdb *redis.Client, stop, restart func()) {
	t.Helper()
	redis.SetLogger(logging.Printf{Logger: slog.New(slog.DiscardHandler)}) // dial failures are expected
	addr, stop, restart := redistest.StartServer(t)
	rdb = redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	return rdb, stop, restart
}

// TestFaultRedisKilledAndRestartedMidFlow: Redis dies with a fix request
// awaiting approval. While it is down, a command, a mention and the approval
// are each answered and nothing runs; once it is back (empty), the old
// approval button is refused as stale and a new command works.
func TestFaultRedisKilledAndRestartedMidFlow(t *testing.T) {
	rdb, stop, restart := privateRedis(t)
	w := newWorldOn(t, rdb)
	r := w.replica(t, "r1")
	report, approval := requestFix(t, w, r, "ins-cpuhigh1", "restart_instance", requester)
	approve, _ := button(approval, "approve")

	stop()
	if _, body := r.command(t, requester, "ins-linux001"); !strings.Contains(body, "state store") {
		t.Errorf("command while Redis is down answered %q", body)
	}
	mustStatus(t, r.mention(t, "EvDown1", outsider, "<@"+slackfake.BotUserID+"> ins-linux001", "1700000000.000200", report.TS), http.StatusOK)
	w.waitEphemeral(t, outsider, "state store")
	mustStatus(t, r.press(t, approverA, "approve", approve, approval.TS), http.StatusOK)
	w.waitEphemeral(t, approverA, "state store")

	restart()
	w.slack.WaitFor(t, func() bool {
		r.press(t, approverB, "approve", approve, approval.TS)
		time.Sleep(100 * time.Millisecond)
		return strings.Contains(strings.Join(w.ephemerals(approverB), "\n"), "nothing was done")
	}, 30*time.Second)
	r.command(t, requester, "ins-linux001")
	w.finalReportOf(t, "ins-linux001", "rediagnose")
	if n := w.sim.CallCount("cvm", "RebootInstances"); n != 0 {
		t.Fatalf("RebootInstances called %d times; the approval was never accepted", n)
	}
}

// TestFaultSlackClockSkew: Slack's clock and the bot's disagree. Requests
// stamped up to 5 minutes off either way are handled; beyond, refused with
// no effect.
func TestFaultSlackClockSkew(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	for _, tt := range []struct {
		skew       time.Duration
		wantStatus int
	}{
		{-4*time.Minute - 50*time.Second, http.StatusOK},
		{4*time.Minute + 50*time.Second, http.StatusOK},
		{-5*time.Minute - 10*time.Second, http.StatusUnauthorized},
		{5*time.Minute + 10*time.Second, http.StatusUnauthorized},
	} {
		body := w.commandForm(requester, "help")
		status, answer := send(t, r.signedRequest(t, "/slack/commands", formType, body, signingSecret, time.Now().Add(tt.skew)), body)
		if status != tt.wantStatus {
			t.Errorf("skew %s: answered %d %q, want %d", tt.skew, status, answer, tt.wantStatus)
		}
		if handled := strings.Contains(answer, "cvm-login"); handled != (tt.wantStatus == http.StatusOK) {
			t.Errorf("skew %s: handled = %v: %q", tt.skew, handled, answer)
		}
	}
}

// TestFaultSlackFailsTheAnswer: Slack rate-limits, fails with 5xx or with a
// transient ok:false the ephemeral that answers a press; the answer is
// retried until it goes through. A permanent refusal falls back to the
// press's response_url.
func TestFaultSlackFailsTheAnswer(t *testing.T) {
	tests := []struct {
		name      string
		inject    func(s *slackfake.Server)
		via       string
		wantCalls int // of via, the failed ones included
	}{
		{"429", func(s *slackfake.Server) { s.RateLimit("chat.postEphemeral", 1, time.Second) }, "chat.postEphemeral", 2},
		{"503 twice", func(s *slackfake.Server) { s.FailStatus("chat.postEphemeral", http.StatusServiceUnavailable, 2) }, "chat.postEphemeral", 3},
		{"500 then internal_error", func(s *slackfake.Server) {
			s.FailStatus("chat.postEphemeral", http.StatusInternalServerError, 1)
			s.Fail("chat.postEphemeral", "internal_error", 1)
		}, "chat.postEphemeral", 3},
		{"channel_not_found", func(s *slackfake.Server) { s.Fail("chat.postEphemeral", "channel_not_found", 1) }, slackfake.MethodResponseURL, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			r := w.replica(t, "r1")
			tt.inject(w.slack)
			payload := pressPayload(outsider, "restart_instance", "aaaaaaaaaaaaaaaaaaaaaaaaaa", "1700000000.000100")
			payload["response_url"] = w.slack.ResponseURL()
			mustStatus(t, r.interact(t, payload), http.StatusOK)
			w.slack.WaitFor(t, func() bool { return len(w.slack.Calls(tt.via)) >= tt.wantCalls }, 30*time.Second)
			time.Sleep(settle)
			calls := w.slack.Calls(tt.via)
			if len(calls) != tt.wantCalls || !strings.Contains(calls[len(calls)-1].Values.Get("text"), "nothing was done") {
				t.Fatalf("%d calls of %s, want %d ending with the answer: %+v", len(calls), tt.via, tt.wantCalls, calls)
			}
		})
	}
}
