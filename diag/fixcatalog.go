package diag

import "strconv"

// The labels of the report's buttons that are not fixes. Remediation text
// that tells people to press one uses these, so that the text and the button
// always say the same.
const (
	LabelRediagnose = "Diagnose again"
	LabelExport     = "Export report"
)

// fixLabels are the button labels of the fix actions, the one place they
// are worded: the bot's buttons, the remediation text and the README say
// them this way (a test holds the README to it).
var fixLabels = map[FixAction]string{
	FixOpenAllPorts:    "Open all ports",
	FixUndoOpenPorts:   "Close opened ports",
	FixRestartInstance: "Restart instance",
	FixStartInstance:   "Start instance",
	// The guest repairs.
	FixRestartLoginService: "Restart login service",
	FixOpenGuestFirewall:   "Open port in guest firewall",
	FixUndoGuestFirewall:   "Close port in guest firewall",
	FixFixAuthorizedKeys:   "Fix key permissions",
	FixEnableRDP:           "Enable Remote Desktop",
}

// Label returns the button label of fix action a: "Open port 22" for
// open_login_port with a known login port ("Open the login port" when port
// is 0), "Open all ports", "Start instance", …; the action itself when it is
// not a known one.
func (a FixAction) Label(port int) string {
	if a == FixOpenLoginPort {
		if port > 0 {
			return "Open port " + strconv.Itoa(port)
		}
		return "Open the login port"
	}
	if label, ok := fixLabels[a]; ok {
		return label
	}
	return string(a)
}

// Harsh reports whether a's button is drawn as dangerous when it is not the
// fix of the likely cause: it opens more than the login port, interrupts the
// instance, or takes access away.
func (a FixAction) Harsh() bool {
	return a == FixOpenAllPorts || a == FixRestartInstance || a == FixUndoOpenPorts || a == FixUndoGuestFirewall
}

// FixLabels returns the labels of every fix action, the login port's
// with port; for documentation and its tests.
func FixLabels(port int) []string {
	labels := make([]string, len(FixActions))
	for i, a := range FixActions {
		labels[i] = a.Label(port)
	}
	return labels
}

// press says "press LABEL" for the remediation text of the checks.
func press(a FixAction, port int) string { return "press " + a.Label(port) }

// TicketURL is Tencent Cloud's console page for submitting a ticket, where
// its login guide sends you with the saved self-diagnosis results when the
// cause cannot be found.
const TicketURL = "https://console.cloud.tencent.com/workorder/category"

// RestartReason says in one line why a restart is offered when no check
// failed.
const RestartReason = "Tencent's login guide: when the cause cannot be located, restart the instance and try again."

// CauseNotFound reports whether the instance was found but no check failed:
// the guide's fallback (restart, then a ticket with the saved report)
// applies.
func (r *Report) CauseNotFound() bool { return r.Instance != nil && r.LikelyCause == nil }

// FallbackFixes returns the fixes offered when no check failed: a restart,
// behind approval as every fix, for an instance that is running.
func (r *Report) FallbackFixes() []FixAction {
	if !r.CauseNotFound() || r.Instance.State != "RUNNING" {
		return nil
	}
	return []FixAction{FixRestartInstance}
}
