package bot_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// reportsFor counts the top-level report messages about target.
func (w *world) reportsFor(target string) int {
	n := 0
	for _, m := range w.slack.Messages(channel) {
		if m.ThreadTS == "" && strings.Contains(m.Text, target) {
			n++
		}
	}
	return n
}

// TestReplicaStoppedMidDiagnosis: the replica running a diagnosis stops; the
// job goes back to the queue, another replica finishes it, and the report
// is posted once.
func TestReplicaStoppedMidDiagnosis(t *testing.T) {
	w := newWorld(t)
	w.sim.SetActionLatency("monitor", "GetMonitorData", 5*time.Second) // keep r1 busy
	r1 := w.replica(t, "r1")
	r1.command(t, requester, "ins-memhigh1")
	w.slack.WaitFor(t, func() bool { return w.reportsFor("ins-memhigh1") == 1 }, 30*time.Second) // the placeholder: r1 is mid-run
	r1.stop()

	w.sim.SetActionLatency("monitor", "GetMonitorData", 0)
	w.replica(t, "r2")
	report := w.finalReportOf(t, "ins-memhigh1", "restart_instance")
	if !strings.Contains(blocksText(report), "Memory is saturated") {
		t.Fatalf("the report r2 finished is not the memory diagnosis: %s", report.Text)
	}
	if n := w.reportsFor("ins-memhigh1"); n != 1 {
		t.Fatalf("%d report messages, want 1", n)
	}
}

// TestStateStoreDownAndBack: while Redis is down the bot says so and
// executes nothing; once Redis is back it works again without a restart.
func TestStateStoreDownAndBack(t *testing.T) {
	rdb, stop, restart := privateRedis(t)
	w := newWorldOn(t, rdb)
	r := w.replica(t, "r1")
	_, approval := requestFix(t, w, r, "ins-cpuhigh1", "restart_instance", requester)
	value, _ := button(approval, "approve")

	stop()
	resp, body := r.command(t, requester, "ins-linux001")
	mustStatus(t, resp, http.StatusOK)
	if !strings.Contains(body, "state store") {
		t.Fatalf("reply while Redis is down: %s", body)
	}
	r.press(t, approverA, "approve", value, approval.TS)
	w.waitEphemeral(t, approverA, "state store")
	if n := w.sim.CallCount("cvm", "RebootInstances"); n != 0 {
		t.Fatalf("RebootInstances called %d times while the approval could not be checked", n)
	}

	restart()
	w.slack.WaitFor(t, func() bool {
		_, body := r.command(t, requester, "ins-linux001")
		return !strings.Contains(body, "state store")
	}, 30*time.Second)
	w.finalReportOf(t, "ins-linux001", "rediagnose")
}

// TestConcurrentCommandsCoalesce: 20 commands for one instance at once, on
// two replicas, cost one diagnosis's worth of API calls.
func TestConcurrentCommandsCoalesce(t *testing.T) {
	w := newWorld(t)
	w.sim.SetLatency(100 * time.Millisecond) // the run lasts long enough to overlap
	r1, r2 := w.replica(t, "r1"), w.replica(t, "r2")
	var (
		mu      sync.Mutex
		pointed int
		wg      sync.WaitGroup
	)
	for i := range 20 {
		r := []*replica{r1, r2}[i%2]
		wg.Go(func() {
			_, body := r.command(t, requester, "ins-linux001")
			if strings.Contains(body, "already being diagnosed") {
				mu.Lock()
				pointed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	w.finalReport(t, "rediagnose")
	if pointed != 19 {
		t.Fatalf("%d of 20 requesters were pointed at the running diagnosis, want 19", pointed)
	}
	if n := w.sim.CallCount("cvm", "DescribeInstances"); n != 1 {
		t.Fatalf("DescribeInstances called %d times, want 1", n)
	}
	if n := w.reportsFor("ins-linux001"); n != 1 {
		t.Fatalf("%d report messages, want 1", n)
	}
}
