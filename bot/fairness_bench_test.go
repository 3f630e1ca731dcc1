package bot_test

import (
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// BenchmarkQuietChannelBehindBusyOne measures the fairness of the job queue
// across channels, as issue 9 asked: N /cvm-login commands for N instances
// queued at once in a busy channel, then one in a quiet channel, against
// one bot replica with its default worker count and Slack's real pacing, the
// Tencent Cloud simulator answering in 100 ms, a fake Slack enforcing
// Slack's documented limits, and real Redis. It reports the quiet channel's
// wait from its command to its final report (quiet-s), how many of the busy
// channel's reports were out by then, and when the busy channel's last
// report was out (busy-last-s: the throughput, bound by Slack's one post
// per second in a channel). One iteration is one burst; run it with
// -benchtime 1x:
//
//	CVMLOGIN_TEST_REDIS_ADDR=127.0.0.1:6379 go test -run XXX -bench BenchmarkQuietChannelBehindBusyOne -benchtime 1x ./bot/
//
// CVMLOGIN_BENCH_BUSY and _LATENCY_MS change the defaults 60 and 100.
func BenchmarkQuietChannelBehindBusyOne(b *testing.B) {
	n, latency := benchSetting("BUSY", 60), time.Duration(benchSetting("LATENCY_MS", 100))*time.Millisecond
	const quietChannel, busyChannel = "C0QUIET", "C0BUSY"
	for range b.N {
		w := newWorld(b)
		w.sim.SetLatency(latency)
		w.slack.EnforceLimits(slackfake.SlackLimits)
		busy := addInstances(b, w, "busy", n)
		quiet := addInstances(b, w, "quiet", 1)[0]
		r := w.replica(b, "r1", func(o *bot.Options) {
			o.Workers, o.PostInterval, o.UpdateEvery, o.UpdateInterval = 0, 0, 0, 0 // the defaults
			o.DeliveryTTL = 15 * time.Minute
		})
		clock := &incidentClock{sent: map[string]time.Time{}, acked: map[string]time.Time{}, visible: map[string]time.Time{}, final: map[string]time.Time{}}
		stop := make(chan struct{})
		var watching sync.WaitGroup
		watching.Go(func() { clock.watch(w, []string{quietChannel, busyChannel}, stop) })

		start := time.Now()
		var sending sync.WaitGroup
		for _, id := range busy {
			sending.Go(func() { r.commandIn(b, busyChannel, requester, id) })
		}
		sending.Wait()
		clock.mark(clock.sent, quiet, time.Now())
		r.commandIn(b, quietChannel, requester, quiet)
		w.slack.WaitFor(b, func() bool { return len(w.reportsIn(quietChannel)) == 1 }, 120*time.Second)
		w.slack.WaitFor(b, func() bool { return len(w.reportsIn(busyChannel)) == n }, 240*time.Second)
		close(stop)
		watching.Wait()

		clock.mu.Lock()
		quietAt := clock.final[quiet]
		quietWait := quietAt.Sub(clock.sent[quiet])
		before, last := 0, time.Time{}
		for _, id := range busy {
			at := clock.final[id]
			if at.Before(quietAt) {
				before++
			}
			if at.After(last) {
				last = at
			}
		}
		clock.mu.Unlock()
		b.Logf("%d commands in a busy channel, then one in a quiet channel; Tencent latency %v", n, latency)
		b.Logf("quiet channel: command→final report %v, after %d of the busy channel's %d reports", quietWait.Round(10*time.Millisecond), before, n)
		b.Logf("busy channel: last report %v after the first command", last.Sub(start).Round(10*time.Millisecond))
		b.ReportMetric(quietWait.Seconds(), "quiet-s")
		b.ReportMetric(float64(before), "busy-reports-before-quiet")
		b.ReportMetric(last.Sub(start).Seconds(), "busy-last-s")
	}
}
