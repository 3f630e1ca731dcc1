package bot_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
	"github.com/cvmlogin/cvmlogin/internal/logging"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// scaledLimits are Slack's limits ten times faster, to keep tests short:
// chat.postMessage one per 100ms per channel (bursts of 3), chat.update 500
// per minute.
var scaledLimits = slackfake.Limits{
	PerMinute:        map[string]int{"chat.update": 500, "chat.postMessage": 3000, "chat.postEphemeral": 1000},
	Burst:            map[string]int{"chat.update": 5, "chat.postMessage": 20},
	ChannelPostEvery: 100 * time.Millisecond,
	ChannelPostBurst: 3,
}

// pacedLikeSlack sets the bot's pacing to scaledLimits.
func pacedLikeSlack(o *bot.Options) {
	o.PostInterval, o.UpdateEvery = 100*time.Millisecond, 120*time.Millisecond
}

// commandIn types /cvm-login text as user in channel ch and returns the ack
// body.
func (r *replica) commandIn(t testing.TB, ch, user, text string) string {
	t.Helper()
	form := url.Values{"command": {"/cvm-login"}, "text": {text}, "user_id": {user}, "channel_id": {ch},
		"team_id": {"T0TEAM"}, "response_url": {r.w.slack.ResponseURLFor(ch)}, "trigger_id": {"1.2.3"}}
	resp := r.post(t, "/slack/commands", "application/x-www-form-urlencoded", form.Encode())
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// addInstances adds n healthy instances ins-<prefix><n> (8 characters after
// ins-) to the simulator.
func addInstances(t testing.TB, w *world, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		sc := tencentsim.DefaultScenario()
		sc.ID = fmt.Sprintf("ins-%s%0*d", prefix, 8-len(prefix), i)
		if err := w.sim.AddScenario(sc); err != nil {
			t.Fatal(err)
		}
		ids[i] = sc.ID
	}
	return ids
}

// reportsIn returns the final top-level reports in ch, by target.
func (w *world) reportsIn(ch string) map[string]slackfake.Message {
	out := map[string]slackfake.Message{}
	for _, m := range w.slack.Messages(ch) {
		if _, ok := button(m, "rediagnose"); ok && m.ThreadTS == "" {
			for _, word := range strings.Fields(m.Text) {
				if word = strings.Trim(word, "*_`:,.()"); strings.HasPrefix(word, "ins-") {
					out[word] = m
				}
			}
		}
	}
	return out
}

// TestReportPostedOnceWhenSlackFailsAfterPosting: Slack answers 500 to a
// chat.postMessage that took effect. The bot finds its message by metadata
// instead of posting a duplicate report or leaving an orphaned placeholder.
func TestReportPostedOnceWhenSlackFailsAfterPosting(t *testing.T) {
	w := newWorld(t)
	w.slack.FailAfterEffect("chat.postMessage", 500, 1)
	r := w.replica(t, "r1")
	r.command(t, requester, "ins-linux001")
	report := w.finalReportOf(t, "ins-linux001", "rediagnose")
	w.waitThread(t, report.TS, "DescribeInstances")
	top := 0
	for _, m := range w.slack.Messages(channel) {
		if m.ThreadTS == "" {
			top++
			if _, ok := button(m, "rediagnose"); !ok {
				t.Errorf("top-level message %s is not the final report: %q", m.TS, m.Text)
			}
		}
	}
	if top != 1 {
		t.Fatalf("%d top-level messages, want the one report", top)
	}
}

// TestFinalUpdateRefusedPostsReportAnew: Slack refuses for good to update
// the "Diagnosing…" message; the report is posted as a new message that
// says why, rather than leaving the placeholder stuck.
func TestFinalUpdateRefusedPostsReportAnew(t *testing.T) {
	w := newWorld(t)
	w.sim.SetLatency(150 * time.Millisecond)
	w.slack.Fail("chat.update", "cant_update_message", 1000)
	r := w.replica(t, "r1", func(o *bot.Options) { o.PlaceholderAfter = time.Millisecond })
	r.command(t, requester, "ins-linux001")
	report := w.finalReportOf(t, "ins-linux001", "rediagnose")
	if !strings.Contains(blocksText(report), "could not be updated") {
		t.Fatalf("the reposted report does not say why: %s", blocksText(report))
	}
	if msgs := w.slack.Messages(channel); len(msgs) < 2 || msgs[0].TS == report.TS {
		t.Fatalf("want the placeholder and then a new report message, got %d messages", len(msgs))
	}
}

// TestEphemeralRetriedAfterTransientError: Slack fails an ephemeral answer
// with internal_error once; the user still gets it.
func TestEphemeralRetriedAfterTransientError(t *testing.T) {
	w := newWorld(t)
	w.slack.Fail("chat.postEphemeral", "internal_error", 1)
	r := w.replica(t, "r1")
	r.mention(t, "Ev0001", requester, "<@U0BOT> help", "1699999999.000200", "")
	w.slack.WaitFor(t, func() bool { return len(w.slack.Calls("chat.postEphemeral")) == 2 }, 5*time.Second)
}

// TestRedisDownAtPublishSaysButtonsAreUnavailable: Redis dies while a
// diagnosis runs and stays down. The report is still posted, and says
// plainly that it has no buttons and how to get them.
func TestRedisDownAtPublishSaysButtonsAreUnavailable(t *testing.T) {
	redis.SetLogger(logging.Printf{Logger: slog.New(slog.DiscardHandler)})
	addr, stop, restart := redistest.StartServer(t)
	defer restart() // for the key cleanup
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 100 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	w := newWorldOn(t, rdb)
	w.sim.SetLatency(200 * time.Millisecond)
	r := w.replica(t, "r1", func(o *bot.Options) { o.DeliveryTTL = time.Second })
	r.command(t, requester, "ins-linux001")
	w.slack.WaitFor(t, func() bool { return w.sim.CallCount("cvm", "DescribeInstances") > 0 }, 5*time.Second)
	stop()
	var report slackfake.Message
	w.slack.WaitFor(t, func() bool {
		for _, m := range w.slack.Messages(channel) {
			if m.ThreadTS == "" && strings.Contains(blocksText(m), "report.header") && !strings.Contains(m.Text, "Diagnosing") {
				report = m
				return true
			}
		}
		return false
	}, 30*time.Second)
	text := blocksText(report)
	if !strings.Contains(text, "no buttons") || !strings.Contains(text, "/cvm-login ins-linux001") {
		t.Fatalf("a report without buttons does not say so: %s", text)
	}
}

// TestRedisBackBeforeDeliveryTTLKeepsButtons: Redis stops answering while
// a diagnosis runs and answers again within the delivery TTL; the report is
// published with its buttons.
func TestRedisBackBeforeDeliveryTTLKeepsButtons(t *testing.T) {
	redis.SetLogger(logging.Printf{Logger: slog.New(slog.DiscardHandler)})
	addr, _, _ := redistest.StartServer(t) // private: CLIENT PAUSE stops the whole server
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 100 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	w := newWorldOn(t, rdb)
	w.sim.SetLatency(200 * time.Millisecond)
	r := w.replica(t, "r1")
	r.command(t, requester, "ins-linux001")
	w.slack.WaitFor(t, func() bool { return w.sim.CallCount("cvm", "DescribeInstances") > 0 }, 5*time.Second)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { admin.Close() })
	// Every write at the diagnosis's end times out for 2 s.
	if err := admin.Do(t.Context(), "CLIENT", "PAUSE", 2000, "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	report := w.finalReportOf(t, "ins-linux001", "rediagnose")
	if strings.Contains(blocksText(report), "no buttons") {
		t.Fatal("Redis came back within the delivery TTL, yet the report has no buttons")
	}
}

// TestQuietChannelNotStuckBehindBusyOne: 60 commands queued in a busy
// channel, then one in a quiet channel, with Slack's per-channel limit
// enforced: the quiet channel's job takes its turn in the queue instead of
// waiting behind the busy channel's backlog, and its report does not wait
// for the busy channel's posts. It is out before most of the busy
// channel's; BenchmarkQuietChannelBehindBusyOne measures how soon.
func TestQuietChannelNotStuckBehindBusyOne(t *testing.T) {
	w := newWorld(t)
	w.slack.EnforceLimits(scaledLimits)
	busy := addInstances(t, w, "busy", 60)
	r := w.replica(t, "r1", pacedLikeSlack, func(o *bot.Options) { o.Workers = 8 })
	var wg sync.WaitGroup
	for _, id := range busy {
		wg.Go(func() { r.commandIn(t, "C0BUSY", requester, id) })
	}
	wg.Wait()
	ack := r.commandIn(t, "C0QUIET", requester, "ins-linux001")
	if m := regexp.MustCompile(`behind (\d+) others`).FindStringSubmatch(ack); m != nil {
		// At most: the 8 jobs running, and the busy channel's turn.
		if n, _ := strconv.Atoi(m[1]); n > 8+1 {
			t.Errorf("the quiet channel's command is told it waits behind the busy channel's backlog: %s", ack)
		}
	}
	// The bounds are generous for a loaded CI machine.
	w.slack.WaitFor(t, func() bool { return len(w.reportsIn("C0QUIET")) == 1 }, 60*time.Second)
	before := len(w.reportsIn("C0BUSY"))
	w.slack.WaitFor(t, func() bool { return len(w.reportsIn("C0BUSY")) == len(busy) }, 60*time.Second)
	t.Logf("the quiet channel's report came after %d of the busy channel's %d", before, len(busy))
	if before > len(busy)/2 {
		t.Errorf("the quiet channel's report came after %d of the busy channel's %d: it waited behind the busy channel", before, len(busy))
	}
	if n := w.slack.Throttled("chat.postMessage") + w.slack.Throttled("chat.update"); n > 0 {
		t.Errorf("Slack answered 429 %d times: the bot should pace itself", n)
	}
}

// TestSlackLimitsKeptAcrossReplicas: two replicas share one Slack budget
// through Redis. A burst of commands over three channels gets every report,
// without a 429, in about one rate-limited call per diagnosis: its thread
// details go through the command's response_url.
func TestSlackLimitsKeptAcrossReplicas(t *testing.T) {
	w := newWorld(t)
	w.slack.EnforceLimits(scaledLimits)
	ids := addInstances(t, w, "load", 30)
	// No placeholder, however slow a loaded machine makes the diagnoses: the
	// count of calls below is then the same on every run.
	noPlaceholder := func(o *bot.Options) { o.PlaceholderAfter = time.Minute }
	r1, r2 := w.replica(t, "r1", pacedLikeSlack, noPlaceholder), w.replica(t, "r2", pacedLikeSlack, noPlaceholder)
	channels := []string{"C0LOAD1", "C0LOAD2", "C0LOAD3"}
	var wg sync.WaitGroup
	for i, id := range ids {
		r := []*replica{r1, r2}[i%2]
		wg.Go(func() { r.commandIn(t, channels[i%3], requester, id) })
	}
	wg.Wait()
	w.slack.WaitFor(t, func() bool {
		n := 0
		for _, ch := range channels {
			n += len(w.reportsIn(ch))
		}
		return n == len(ids)
	}, 30*time.Second)
	if n := w.slack.Throttled("chat.postMessage") + w.slack.Throttled("chat.update"); n > 0 {
		t.Errorf("Slack answered 429 %d times", n)
	}
	calls := float64(len(w.slack.Calls("chat.postMessage"))+len(w.slack.Calls("chat.update"))) / float64(len(ids))
	if calls > 1.5 {
		t.Errorf("%.2f rate-limited Slack calls per diagnosis, want about 1", calls)
	}
}

// TestReadOnlyChannelDoesNotStallTheBot: Slack refuses every post in a
// read-only channel. Each user there is told through response_url, the bot
// does not retry, and another channel is served meanwhile.
func TestReadOnlyChannelDoesNotStallTheBot(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1", func(o *bot.Options) { o.Workers = 1; o.DeliveryTTL = time.Minute })
	w.slack.Fail("chat.postMessage", "restricted_action_read_only_channel", 1)
	r.commandIn(t, "C0READONLY", requester, "ins-linux001")
	w.slack.WaitFor(t, func() bool { return len(w.slack.Calls(slackfake.MethodResponseURL)) == 1 }, 5*time.Second)
	for i := range 3 {
		body := r.commandIn(t, "C0READONLY", requester, fmt.Sprintf("ins-linux00%d", i+2))
		if !strings.Contains(body, "cannot post") {
			t.Errorf("command %d in the read-only channel answered %q", i+2, body)
		}
	}
	r.commandIn(t, channel, requester, "ins-cpuhigh1")
	w.finalReportOf(t, "ins-cpuhigh1", "rediagnose")
	refused := 0
	for _, c := range w.slack.Calls("chat.postMessage") {
		if c.Values.Get("channel") == "C0READONLY" {
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("%d posts tried in the read-only channel, want 1: a permanent error is not retried", refused)
	}
}

// TestQueuedCommandIsToldWhereItStands: with one worker busy, a command's
// acknowledgement says it is queued and roughly when it will run, and that
// notice is replaced once the report is out.
func TestQueuedCommandIsToldWhereItStands(t *testing.T) {
	w := newWorld(t)
	w.sim.SetLatency(100 * time.Millisecond)
	r := w.replica(t, "r1", func(o *bot.Options) { o.Workers = 1 })
	ids := addInstances(t, w, "queue", 4)
	var bodies []string
	for _, id := range ids {
		bodies = append(bodies, r.commandIn(t, channel, requester, id))
	}
	last := bodies[len(bodies)-1]
	if !strings.Contains(last, "queued") || !strings.Contains(last, "should run in about") || !strings.Contains(last, `"ephemeral"`) {
		t.Fatalf("the last of 4 commands for one worker was acknowledged with %q", last)
	}
	w.slack.WaitFor(t, func() bool { return len(w.reportsIn(channel)) == len(ids) }, 20*time.Second)
	w.slack.WaitFor(t, func() bool {
		for _, c := range w.slack.Calls(slackfake.MethodResponseURL) {
			if c.Values.Get("replace_original") == "true" && strings.Contains(c.Values.Get("text"), "is ready") {
				return true
			}
		}
		return false
	}, 5*time.Second)
}

// TestRunClaimCoversTheQueue: the claim that coalesces commands for one
// instance lasts while its job waits in the queue, not only for the run.
func TestRunClaimCoversTheQueue(t *testing.T) {
	w := newWorld(t)
	w.sim.SetLatency(300 * time.Millisecond)
	r := w.replica(t, "r1", func(o *bot.Options) {
		o.Workers, o.DiagnosisTimeout, o.DeliveryTTL = 1, 2*time.Second, 10*time.Minute
	})
	r.command(t, requester, "ins-cpuhigh1") // occupies the one worker
	r.command(t, requester, "ins-linux002") // waits in the queue
	ttl, err := w.rdb.PTTL(t.Context(), w.prefix+"run:ap-guangzhou/ins-linux002").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl < 5*time.Minute {
		t.Fatalf("a queued job's instance is claimed for %v only: a command after that starts a second run", ttl)
	}
	if _, body := r.command(t, outsider, "ins-linux002"); !strings.Contains(body, "already being diagnosed") {
		t.Fatalf("second command for a queued instance answered %q", body)
	}
}

// TestProgressGivesWayToTheReport: slow diagnoses in two channels keep
// their "Diagnosing…" messages current only while the workspace's
// chat.update budget has room to spare; the reports still replace them, and
// Slack never answers 429.
func TestProgressGivesWayToTheReport(t *testing.T) {
	w := newWorld(t)
	w.sim.SetLatency(200 * time.Millisecond)
	w.slack.EnforceLimits(slackfake.Limits{PerMinute: map[string]int{"chat.update": 60}, Burst: map[string]int{"chat.update": 4}})
	r := w.replica(t, "r1", func(o *bot.Options) {
		o.PlaceholderAfter, o.UpdateInterval, o.UpdateEvery = time.Millisecond, 20*time.Millisecond, time.Second
	})
	r.commandIn(t, "C0SLOW1", requester, "ins-linux001")
	r.commandIn(t, "C0SLOW2", requester, "ins-cpuhigh1")
	w.slack.WaitFor(t, func() bool { return len(w.reportsIn("C0SLOW1")) == 1 && len(w.reportsIn("C0SLOW2")) == 1 }, 30*time.Second)
	for _, ch := range []string{"C0SLOW1", "C0SLOW2"} {
		if msgs := w.slack.Messages(ch); msgs[0].Updates == 0 {
			t.Errorf("%s: the placeholder was not replaced by the report", ch)
		}
	}
	if n := w.slack.Throttled("chat.update"); n > 0 {
		t.Fatalf("Slack answered chat.update with 429 %d times", n)
	}
}
