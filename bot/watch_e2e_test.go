package bot_test

import (
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/diag"
)

// TestWatchLoginSaysWhenLoginWorks: "Tell me when login works" probes the
// login port; once the approved fix opens it, one line in the thread says
// since when it answers.
func TestWatchLoginSaysWhenLoginWorks(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1", fourEyes(false))
	r.command(t, requester, "ins-sgdrop01")
	report := w.finalReport(t, bot.ActionWatchLogin)
	dumpThreadOnFailure(t, w, report.TS)
	watch, _ := button(report, bot.ActionWatchLogin)
	r.press(t, requester, bot.ActionWatchLogin, watch, report.TS)
	w.waitEphemeral(t, requester, "Watching TCP 22 of ins-sgdrop01")
	r.press(t, requester, bot.ActionWatchLogin, watch, report.TS)
	w.waitEphemeral(t, requester, "I am already watching ins-sgdrop01")

	open, _ := button(report, "open_login_port")
	r.press(t, approverA, "open_login_port", open, report.TS)
	w.waitThread(t, report.TS, "TCP 22 of ins-sgdrop01 answers since")
}

// TestWatchLoginGivesUp: a port that never answers is reported once, when
// the watch's deadline passes, and a new diagnosis follows.
func TestWatchLoginGivesUp(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1", func(o *bot.Options) {
		o.Watch = simWatcher{w.sim.Dialer(), diag.WatchOptions{Interval: 20 * time.Millisecond, Timeout: 100 * time.Millisecond, Deadline: 300 * time.Millisecond}}
	})
	r.command(t, requester, "ins-sgdrop01")
	report := w.finalReport(t, bot.ActionWatchLogin)
	dumpThreadOnFailure(t, w, report.TS)
	watch, _ := button(report, bot.ActionWatchLogin)
	r.press(t, requester, bot.ActionWatchLogin, watch, report.TS)
	w.waitThread(t, report.TS, "TCP 22 of ins-sgdrop01 is still not reachable after")
}
