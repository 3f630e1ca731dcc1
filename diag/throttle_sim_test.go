package diag_test

import (
	"context"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
)

// TestThrottlingThatEndsBeforeTheDeadlineLeavesNoUnknown throttles every
// GetMonitorData call for longer than a few retries would wait, then lifts
// the throttling well before the check's deadline: the load checks must come
// out known.
func TestThrottlingThatEndsBeforeTheDeadlineLeavesNoUnknown(t *testing.T) {
	d, sim := simDiagnoser(t, diag.Options{PortProbe: false, GuestChecks: false, CheckTimeout: 10 * time.Second})
	sim.SetFault("monitor", "GetMonitorData", "RequestLimitExceeded")
	// Longer than the 3 retries of the default 200 ms backoff take (at most
	// 1.4 s), far shorter than the 10 s deadline.
	lift := time.AfterFunc(1600*time.Millisecond, func() { sim.SetFault("monitor", "GetMonitorData", "") })
	defer lift.Stop()

	r, err := d.Diagnose(context.Background(), diag.Request{Target: diag.Target{Raw: "ins-linux001", Kind: diag.TargetInstanceID}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		switch f.Check {
		case diag.CheckLoadCPU, diag.CheckLoadMemory, diag.CheckBandwidthUsage:
			if f.Status != diag.StatusOK {
				t.Errorf("%s: %s %q (%s), want ok once the throttling ended", f.Check, f.Status, f.Title, f.Detail)
			}
		}
	}
}
