package bot_test

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencent"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// benchSetting reads an integer CVMLOGIN_BENCH_<name>, or def.
func benchSetting(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv("CVMLOGIN_BENCH_" + name)); err == nil && v > 0 {
		return v
	}
	return def
}

// incidentClock records, per instance, when its command was sent and
// acknowledged, and when its first visible message and its final report
// appeared in Slack.
type incidentClock struct {
	mu                          sync.Mutex
	sent, acked, visible, final map[string]time.Time
}

func (c *incidentClock) mark(m map[string]time.Time, id string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := m[id]; !ok {
		m[id] = at
	}
}

// watch polls the channels' messages until stop is closed, marking each
// instance's first top-level message and its final report.
func (c *incidentClock) watch(w *world, channels []string, stop <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		now := time.Now()
		for _, ch := range channels {
			for _, m := range w.slack.Messages(ch) {
				if m.ThreadTS != "" {
					continue
				}
				for _, word := range strings.Fields(m.Text) {
					if id := strings.Trim(word, "*_`:,.()…"); strings.HasPrefix(id, "ins-") {
						c.mark(c.visible, id, now)
						if _, ok := button(m, "rediagnose"); ok {
							c.mark(c.final, id, now)
						}
					}
				}
			}
		}
	}
}

// durations returns, for every instance in to, to[id] - from[id], sorted.
func (c *incidentClock) durations(from, to map[string]time.Time) []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for id, end := range to {
		if start, ok := from[id]; ok {
			out = append(out, end.Sub(start))
		}
	}
	slices.Sort(out)
	return out
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(int(q*float64(len(sorted))), len(sorted)-1)]
}

// BenchmarkIncident replays a region-wide outage, as issue 9 measured it:
// N signed /cvm-login commands for N different instances over C channels at
// R per second, against bot replicas in HTTP mode with their default
// worker count and Slack's real pacing, the Tencent Cloud simulator
// answering in 100 ms, a fake Slack enforcing Slack's documented limits
// (chat.postMessage about 1 per second per channel, chat.update 50 per
// minute, 429 with Retry-After), and real Redis. One iteration is one
// incident; run it with -benchtime 1x:
//
//	CVMLOGIN_TEST_REDIS_ADDR=127.0.0.1:6379 go test -run XXX -bench BenchmarkIncident -benchtime 1x ./bot/
//
// CVMLOGIN_BENCH_COMMANDS, _CHANNELS, _RATE (per second), _REPLICAS and
// _LATENCY_MS change the defaults 300, 10, 30, 1 and 100.
// CVMLOGIN_BENCH_TENCENT_RPS=N makes the simulator accept N requests per
// second of every action (RequestLimitExceeded beyond), and the replicas
// spend a budget of N per action, shared in Redis as in production; by
// default neither is limited.
func BenchmarkIncident(b *testing.B) {
	n, nch, rate := benchSetting("COMMANDS", 300), benchSetting("CHANNELS", 10), benchSetting("RATE", 30)
	nrep, latency := benchSetting("REPLICAS", 1), time.Duration(benchSetting("LATENCY_MS", 100))*time.Millisecond
	rps := benchSetting("TENCENT_RPS", 0)
	for range b.N {
		w := newWorld(b)
		w.sim.SetLatency(latency)
		if rps > 0 {
			w.limitTencent(b, rps)
		}
		w.slack.EnforceLimits(slackfake.SlackLimits)
		ids := addInstances(b, w, "bn", n)
		reports := &reportTally{}
		var replicas []*replica
		for i := range nrep {
			replicas = append(replicas, w.replica(b, fmt.Sprintf("r%d", i+1), func(o *bot.Options) {
				o.Workers, o.PostInterval, o.UpdateEvery, o.UpdateInterval = 0, 0, 0, 0 // the defaults
				o.DeliveryTTL = 15 * time.Minute
				o.Metrics = reports
			}))
		}
		channels := make([]string, nch)
		for i := range channels {
			channels[i] = fmt.Sprintf("C0INC%04d", i)
		}
		clock := &incidentClock{sent: map[string]time.Time{}, acked: map[string]time.Time{}, visible: map[string]time.Time{}, final: map[string]time.Time{}}
		stop := make(chan struct{})
		var watching sync.WaitGroup
		watching.Go(func() { clock.watch(w, channels, stop) })

		start := time.Now()
		var acks []time.Duration
		var acksMu sync.Mutex
		var sending sync.WaitGroup
		for i, id := range ids {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
			r, ch := replicas[i%nrep], channels[i%nch]
			sending.Go(func() {
				sent := time.Now()
				clock.mark(clock.sent, id, sent)
				body := r.commandIn(b, ch, requester, id)
				acked := time.Now()
				clock.mark(clock.acked, id, acked)
				if strings.Contains(body, "queued") {
					clock.mark(clock.visible, id, acked)
				}
				acksMu.Lock()
				acks = append(acks, acked.Sub(sent))
				acksMu.Unlock()
			})
		}
		sending.Wait()
		deadline := start.Add(240 * time.Second)
		for time.Now().Before(deadline) {
			clock.mu.Lock()
			done := len(clock.final)
			clock.mu.Unlock()
			if done == n {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		close(stop)
		watching.Wait()
		time.Sleep(2 * time.Second) // let the last thread details go out before counting calls

		slices.Sort(acks)
		firstVisible := clock.durations(clock.sent, clock.visible)
		toFinal := clock.durations(clock.sent, clock.final)
		within120 := 0
		for _, at := range clock.final {
			if at.Sub(start) <= 120*time.Second {
				within120++
			}
		}
		late := 0
		for _, d := range firstVisible {
			if d > 3*time.Second {
				late++
			}
		}
		posts, updates := len(w.slack.Calls("chat.postMessage")), len(w.slack.Calls("chat.update"))
		throttled := w.slack.Throttled("chat.postMessage") + w.slack.Throttled("chat.update")
		slackCalls := posts + updates
		b.Logf("incident: %d commands, %d instances, %d channels, %d/s, %d replica(s), Tencent latency %v, Tencent limit and budget %d/s per action (0: none)",
			n, n, nch, rate, nrep, latency, rps)
		b.Logf("acks: p50 %v p99 %v", quantile(acks, 0.5), quantile(acks, 0.99))
		b.Logf("first visible response: p50 %v p99 %v max %v, %d of %d later than 3s, %d never", quantile(firstVisible, 0.5),
			quantile(firstVisible, 0.99), quantile(firstVisible, 1), late, n, n-len(firstVisible))
		b.Logf("command→final: p50 %v p95 %v max %v; delivered %d/%d within 120s of the first command, %d/%d in all",
			quantile(toFinal, 0.5), quantile(toFinal, 0.95), quantile(toFinal, 1), within120, n, len(toFinal), n)
		b.Logf("Slack: %d chat.postMessage + %d chat.update = %.2f rate-limited calls per diagnosis, %d answered 429 (%.1f%%), %d response_url posts",
			posts, updates, float64(slackCalls)/float64(n), throttled, 100*float64(throttled)/float64(max(slackCalls, 1)), len(w.slack.Calls(slackfake.MethodResponseURL)))
		refused, byAction := 0, map[string]int{}
		for _, c := range w.sim.Calls() {
			byAction[c.Action]++
			if c.ErrorCode == "RequestLimitExceeded" {
				refused++
			}
		}
		diagnosed, unknown, throttledUnknown, unknownByCheck := reports.counts()
		b.Logf("Tencent: %.2f calls per diagnosis (%v), %d refused (RequestLimitExceeded); %d diagnoses: %.2f findings unknown per diagnosis (%v), %.2f by throttling",
			float64(len(w.sim.Calls()))/float64(n), byAction, refused, diagnosed, float64(unknown)/float64(max(diagnosed, 1)), unknownByCheck,
			float64(throttledUnknown)/float64(max(diagnosed, 1)))
		b.ReportMetric(quantile(toFinal, 0.95).Seconds(), "p95-final-s")
		b.ReportMetric(float64(len(toFinal)), "delivered")
		b.ReportMetric(float64(slackCalls)/float64(n), "slack-calls/diag")
		b.ReportMetric(float64(throttled), "429s")
		b.ReportMetric(float64(throttledUnknown)/float64(max(diagnosed, 1)), "throttled-unknowns/diag")
	}
}

// limitTencent makes the simulator accept perSecond requests per second of
// every action, and gives the world's client the same budget, spent
// through a limiter in the world's Redis as cvmlogin serve does.
func (w *world) limitTencent(b *testing.B, perSecond int) {
	w.sim.SetRateLimit(tencentsim.RateLimit{PerSecond: perSecond})
	budgets := map[string]int{}
	for _, a := range tencent.Actions() {
		budgets[a.Name] = perSecond
	}
	store := conversations.New(w.rdb, conversations.Options{Prefix: w.prefix})
	client, err := tencent.New(tencent.Config{Region: "ap-guangzhou", Endpoint: w.simAt, Scheme: "http",
		SecretID: tencentsim.TestSecretID, SecretKey: tencentsim.TestSecretKey, RateLimits: budgets,
		Limiter: store.RateLimiter(conversations.RateLimiterOptions{Budgets: budgets})})
	if err != nil {
		b.Fatal(err)
	}
	w.client = client
}

// reportTally is the bot.Metrics of BenchmarkIncident: it counts the
// diagnoses and their unknown findings, in all and by throttling.
type reportTally struct {
	mu                                sync.Mutex
	diagnoses, unknown, throttledOnes int
	byCheck                           map[diag.CheckID]int // unknown findings
}

// Diagnosis implements bot.Metrics.
func (t *reportTally) Diagnosis(r *diag.Report, _ error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.diagnoses++
	for _, f := range r.Findings {
		if f.Status == diag.StatusUnknown {
			t.unknown++
			if t.byCheck == nil {
				t.byCheck = map[diag.CheckID]int{}
			}
			t.byCheck[f.Check]++
			if strings.Contains(f.Detail, "rate limited") {
				t.throttledOnes++
			}
		}
	}
}

// FixEvent implements bot.Metrics.
func (t *reportTally) FixEvent(string, diag.FixStatus) {}

// ReportDelivered implements bot.Metrics.
func (t *reportTally) ReportDelivered(time.Duration) {}

// ReportUndelivered implements bot.Metrics.
func (t *reportTally) ReportUndelivered(string) {}

func (t *reportTally) counts() (diagnoses, unknown, throttled int, byCheck map[diag.CheckID]int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.diagnoses, t.unknown, t.throttledOnes, maps.Clone(t.byCheck)
}
