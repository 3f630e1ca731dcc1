package bot_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/diag"
)

// metricsRecorder is a bot.Metrics that remembers what it was told.
type metricsRecorder struct {
	mu        sync.Mutex
	diagnoses []string // each report's Verdict, or the error
	fixEvents []string // "action outcome"
	waits     []time.Duration
	lost      []string // the trigger of each report that reached nobody
}

func (m *metricsRecorder) ReportUndelivered(trigger string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lost = append(m.lost, trigger)
}

func (m *metricsRecorder) ReportDelivered(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.waits = append(m.waits, d)
}

func (m *metricsRecorder) Diagnosis(r *diag.Report, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.diagnoses = append(m.diagnoses, err.Error())
		return
	}
	m.diagnoses = append(m.diagnoses, r.Verdict())
}

func (m *metricsRecorder) FixEvent(action string, outcome diag.FixStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fixEvents = append(m.fixEvents, action+" "+string(outcome))
}

func (m *metricsRecorder) snapshot() (diagnoses, fixEvents []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.diagnoses), slices.Clone(m.fixEvents)
}

func withMetrics(m bot.Metrics) replicaOption { return func(o *bot.Options) { o.Metrics = m } }

// TestMetricsFollowADiagnosisAndItsFix requests a fix, has an outsider's
// approval refused and an approver's accepted, and sees every step counted:
// the diagnosis, the fix request's events, and the re-diagnosis after it.
func TestMetricsFollowADiagnosisAndItsFix(t *testing.T) {
	w := newWorld(t)
	rec := &metricsRecorder{}
	r := w.replica(t, "r1", withMetrics(rec))
	report, approval := requestFix(t, w, r, "ins-sgdrop01", "open_all_ports", requester)
	value, _ := button(approval, "approve")
	mustStatus(t, r.press(t, outsider, "approve", value, approval.TS), http.StatusOK)
	w.waitEphemeral(t, outsider, "Only approvers")
	mustStatus(t, r.press(t, approverA, "approve", value, approval.TS), http.StatusOK)
	w.waitThread(t, report.TS, "what changed")

	w.slack.WaitFor(t, func() bool { d, _ := rec.snapshot(); return len(d) == 2 }, 5*time.Second)
	diagnoses, fixEvents := rec.snapshot()
	if !strings.HasPrefix(diagnoses[0], "FAIL: likely cause security_group.login_port") || strings.HasPrefix(diagnoses[1], "FAIL: likely cause security_group") {
		t.Errorf("diagnoses %q: want the failure, then the re-diagnosis without it", diagnoses)
	}
	rec.mu.Lock()
	waits := slices.Clone(rec.waits)
	rec.mu.Unlock()
	if len(waits) != 2 || waits[0] <= 0 || waits[0] > time.Minute {
		t.Errorf("report waits %v: want one per delivered report (command, then the re-diagnosis after the fix)", waits)
	}
	want := []string{"open_all_ports requested", "open_all_ports refused", "open_all_ports approved", "open_all_ports succeeded"}
	if !slices.Equal(fixEvents, want) {
		t.Errorf("fix events %q, want %q", fixEvents, want)
	}
}
