package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
)

// TestWatchLoginSaysWhenLoginWorks: "Tell me when login works" probes the
// login port; once the approved fix opens it, one line in the thread says
// since when it answers, and that sshd runs in the guest.
func TestWatchLoginSaysWhenLoginWorks(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1", fourEyes(false))
	r.command(t, requester, "ins-sgdrop01")
	report := w.finalReport(t, bot.ActionWatchLogin)
	dumpThreadOnFailure(t, w, report.TS)
	watch, _ := button(report, bot.ActionWatchLogin)
	r.press(t, requester, bot.ActionWatchLogin, watch, report.TS)
	w.waitEphemeral(t, requester, "Watching TCP 22 of ins-sgdrop01, and its login service through TAT")
	r.press(t, requester, bot.ActionWatchLogin, watch, report.TS)
	w.waitEphemeral(t, requester, "I am already watching ins-sgdrop01")

	open, _ := button(report, "open_login_port")
	r.press(t, approverA, "open_login_port", open, report.TS)
	line := w.waitThread(t, report.TS, "TCP 22 of ins-sgdrop01 answers since")
	if !strings.Contains(line, "and sshd is running in the guest (active, listening on 22)") {
		t.Errorf("the line does not say sshd runs: %s", line)
	}
}

// TestWatchLoginGivesUp: a port that never answers is reported once, when
// the watch's deadline passes, with what the guest said of sshd, and a new
// diagnosis follows.
func TestWatchLoginGivesUp(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1", func(o *bot.Options) {
		o.Watch = w.watcher(diag.WatchOptions{Interval: 20 * time.Millisecond, Timeout: 100 * time.Millisecond, Deadline: 3 * time.Second,
			ServiceEvery: 2, GuestPoll: 5 * time.Millisecond})
	})
	r.command(t, requester, "ins-portdown")
	report := w.finalReport(t, bot.ActionWatchLogin)
	dumpThreadOnFailure(t, w, report.TS)
	watch, _ := button(report, bot.ActionWatchLogin)
	r.press(t, requester, bot.ActionWatchLogin, watch, report.TS)
	line := w.waitThread(t, report.TS, "TCP 22 of ins-portdown still does not answer after")
	if !strings.Contains(line, "and sshd is not running in the guest (inactive; nothing listens on 22)") {
		t.Errorf("the line does not say sshd is down: %s", line)
	}
	w.waitThread(t, report.TS, "Re-diagnos")
}

// TestWatchSurvivesItsReplica: a watch started on replica a goes on when a
// stops (it hands the watch over) or dies (the job queue redelivers it):
// replica b resumes it, keeps the instance claimed, and posts the one line
// when sshd is started.
func TestWatchSurvivesItsReplica(t *testing.T) {
	for _, tc := range []struct {
		name string
		dies bool
	}{{"a stops", false}, {"a dies", true}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			doomed := redistest.New(t)
			if tc.dies {
				w.replicaRedis = map[string]redis.UniversalClient{"a": doomed}
			}
			a := w.replica(t, "a")
			a.command(t, requester, "ins-portdown")
			report := w.finalReport(t, bot.ActionWatchLogin)
			dumpThreadOnFailure(t, w, report.TS)
			watch, _ := button(report, bot.ActionWatchLogin)
			checks := w.sim.CallCount("tat", "RunCommand")
			a.press(t, requester, bot.ActionWatchLogin, watch, report.TS)
			w.waitEphemeral(t, requester, "Watching TCP 22 of ins-portdown, and its login service through TAT")
			// a's watch has looked inside the guest: sshd is still down.
			w.slack.WaitFor(t, func() bool { return w.sim.CallCount("tat", "RunCommand") > checks }, 30*time.Second)
			if tc.dies {
				doomed.Close()
			} else {
				a.stop()
			}

			b := w.replica(t, "b")
			b.press(t, requester, bot.ActionWatchLogin, watch, report.TS)
			w.waitEphemeral(t, requester, "I am already watching ins-portdown")
			if err := w.sim.SetLoginService("ins-portdown", true); err != nil {
				t.Fatal(err)
			}
			line := w.waitThread(t, report.TS, "TCP 22 of ins-portdown answers since")
			if !strings.Contains(line, "and sshd is running in the guest") {
				t.Errorf("the line does not say sshd runs: %s", line)
			}
			time.Sleep(500 * time.Millisecond) // room for a second, wrong, line
			if n := w.threadCount(report.TS, "TCP 22 of ins-portdown"); n != 1 {
				t.Fatalf("%d watch lines posted, want 1", n)
			}
		})
	}
}
