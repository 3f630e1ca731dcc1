package bot

import (
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
)

// Metrics receives what the bot counts. *metrics.Metrics (internal/metrics)
// satisfies it. Implementations must be safe for concurrent use.
type Metrics interface {
	// Diagnosis counts a finished diagnosis with Diagnose's report and error.
	Diagnosis(r *diag.Report, err error)
	// FixEvent counts a step of a fix request: action is its diag.FixAction,
	// outcome one of requested, approved, rejected, refused, expired,
	// succeeded, failed or not_applicable.
	FixEvent(action string, outcome diag.FixStatus)
	// ReportDelivered observes how long a user waited for a final report:
	// from the command (or button, or alarm) to the report in Slack.
	ReportDelivered(d time.Duration)
	// ReportUndelivered counts a final report that could be posted nowhere
	// and of which nobody could be told; trigger is "alarm" when an alarm
	// asked for it, else "user".
	ReportUndelivered(trigger string)
}

// noMetrics is the Metrics of a Bot whose Options have none.
type noMetrics struct{}

func (noMetrics) Diagnosis(*diag.Report, error)   {}
func (noMetrics) FixEvent(string, diag.FixStatus) {}
func (noMetrics) ReportDelivered(time.Duration)   {}
func (noMetrics) ReportUndelivered(string)        {}

// fixEndOutcome is the FixEvent outcome of a finished fix whose request
// ended in status (succeeded or failed): not_applicable when the fix found
// nothing to change.
func fixEndOutcome(status diag.FixStatus, outcome diag.FixOutcome) diag.FixStatus {
	if status == diag.FixSucceeded && outcome.Result == diag.FixNotApplicable {
		return diag.FixNotApplicable
	}
	return status
}
