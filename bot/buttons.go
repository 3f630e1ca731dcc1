package bot

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/diag"
)

// The report message's action IDs that are not fix actions (design.md B6).
// Fix buttons use the diag.FixAction strings.
const (
	ActionRediagnose   = "rediagnose"
	ActionExportReport = "export_report"
	// ActionOpenVNC answers the presser alone with a one-time link to the
	// instance's VNC console (design.md B7).
	ActionOpenVNC = "open_vnc"
)

// buttonOrder is the order of the report message's buttons: the targeted fix
// first, the harshest last, then the harmless ones.
var buttonOrder = []string{
	string(diag.FixOpenLoginPort),
	string(diag.FixOpenAllPorts),
	string(diag.FixEnableRDP),
	string(diag.FixOpenGuestFirewall),
	string(diag.FixFixAuthorizedKeys),
	string(diag.FixRestartLoginService),
	string(diag.FixStartInstance),
	string(diag.FixRestartInstance),
	string(diag.FixUndoOpenPorts),
	string(diag.FixUndoGuestFirewall),
	ActionOpenVNC,
	ActionWatchLogin,
	ActionPasteSymptom,
	ActionRediagnose,
	ActionExportReport,
}

// ButtonsFor returns the action IDs that make sense for r, in button order:
// the fixes proposed by its findings that need attention (fail, unknown,
// warn) or, when no check failed, the fallback of Tencent's login guide
// (restart the instance), then ActionPasteSymptom, ActionRediagnose and
// ActionExportReport.
// The undos are never among them: the caller adds them when the bot opened
// ports. Fix actions the report message cannot draw are left out.
func ButtonsFor(r *diag.Report) []string {
	wanted := map[string]bool{ActionPasteSymptom: true, ActionRediagnose: true, ActionExportReport: true}
	if r != nil {
		for _, f := range r.Findings {
			if f.Status.NeedsAttention() {
				addFixes(wanted, f.Fixes)
			}
		}
		addFixes(wanted, r.FallbackFixes())
		wanted[ActionOpenVNC] = vncHelps(r)
		wanted[ActionWatchLogin] = r.Failed() && r.Instance != nil && len(r.Instance.PublicIPs) > 0
	}
	return slices.DeleteFunc(slices.Clone(buttonOrder), func(id string) bool { return !wanted[id] })
}

// vncHelps reports whether the VNC console is the way in: the instance runs
// but a check on the way to the login prompt failed.
func vncHelps(r *diag.Report) bool {
	if r.Instance == nil || r.Instance.State != "RUNNING" {
		return false
	}
	for _, id := range []diag.CheckID{diag.CheckSGLoginPort, diag.CheckPortReachable, diag.CheckGuestLoginService, diag.CheckGuestLoginConfig, diag.CheckGuestAgent} {
		if f, ok := r.Finding(id); ok && f.Status == diag.StatusFail {
			return true
		}
	}
	return false
}

func addFixes(wanted map[string]bool, fixes []diag.FixAction) {
	for _, fix := range fixes {
		if fix != diag.FixUndoOpenPorts && fix != diag.FixUndoGuestFirewall {
			wanted[string(fix)] = true
		}
	}
}

// primaryFix is the fix drawn as the primary (green) button: the first fix
// of the likely cause, or none.
func primaryFix(r *diag.Report) diag.FixAction {
	if r == nil || r.LikelyCause == nil {
		return ""
	}
	if f, ok := r.Finding(*r.LikelyCause); ok && len(f.Fixes) > 0 {
		return f.Fixes[0]
	}
	return ""
}

// actionButtons returns the buttons for the actions in values, in
// buttonOrder; each carries its opaque value.
func actionButtons(r *diag.Report, values map[string]string) []slack.BlockElement {
	var buttons []slack.BlockElement
	for _, id := range buttonOrder {
		value, ok := values[id]
		if !ok {
			continue
		}
		buttons = append(buttons, newButton(id, value, describeButton(id, r)))
	}
	return buttons
}

// buttonLook is how a button appears: its label and style, and for a change
// to the cloud, the confirm dialog that says exactly what changes.
type buttonLook struct {
	label   string
	style   slack.Style
	confirm *confirmDialog
}

type confirmDialog struct {
	title, text, ok string
}

func newButton(actionID, value string, look buttonLook) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(actionID, value, plainText(truncateText(look.label, maxButtonText, "…")))
	if look.style != slack.StyleDefault {
		b = b.WithStyle(look.style)
	}
	if c := look.confirm; c != nil {
		b = b.WithConfirm(slack.NewConfirmationBlockObject(
			plainText(truncateText(c.title, maxConfirmTitle, "…")),
			plainText(truncateText(c.text, maxConfirmText, "…")),
			plainText(truncateText(c.ok, maxConfirmButtonLabel, "…")),
			plainText("Cancel"),
		).WithStyle(slack.StyleDanger))
	}
	return b
}

// describeButton returns the look of action id's button for report r: its
// label from the fix catalogue (diag.FixAction.Label), primary when it is
// the fix of the likely cause, danger when it is harsh, and for a fix a
// confirm dialog saying exactly what changes.
func describeButton(id string, r *diag.Report) buttonLook {
	switch id {
	case ActionRediagnose:
		return buttonLook{label: diag.LabelRediagnose}
	case ActionExportReport:
		return buttonLook{label: diag.LabelExport}
	case ActionOpenVNC:
		return buttonLook{label: labelOpenVNC}
	case ActionWatchLogin:
		return buttonLook{label: labelWatchLogin}
	case ActionPasteSymptom:
		return buttonLook{label: labelPasteSymptom}
	}
	target := targetNames(r)
	action := diag.FixAction(id)
	look := buttonLook{label: action.Label(target.port)}
	switch {
	case action == primaryFix(r):
		look.style = slack.StylePrimary
	case action.Harsh():
		look.style = slack.StyleDanger
	}
	if confirm, ok := confirmFor(action, target); ok {
		look.confirm = &confirm
	}
	return look
}

// confirmFor is the confirm dialog of a fix button, which says exactly what
// the fix changes.
func confirmFor(action diag.FixAction, target fixTarget) (confirmDialog, bool) {
	label := action.Label(target.port)
	switch action {
	case diag.FixOpenLoginPort:
		port, rule := "the login port", "TCP on the login port"
		if target.port != 0 {
			port, rule = "port "+strconv.Itoa(target.port), "TCP "+strconv.Itoa(target.port)
		}
		return confirmDialog{label + "?",
			fmt.Sprintf("Adds an inbound rule at the top of %s: %s from 0.0.0.0/0. Everyone can reach %s.", target.group, rule, port), label}, true
	case diag.FixOpenAllPorts:
		return confirmDialog{label + "?",
			"Adds inbound rules at the top of " + target.group + ": TCP " + joinPorts(diag.OpenAllPortsTCP(target.port)) +
				" and ICMP from 0.0.0.0/0. Everyone can reach these ports.", label}, true
	case diag.FixStartInstance:
		return confirmDialog{"Start the instance?", "Starts " + target.instance + ". A pay-as-you-go instance is billed again while it runs.", "Start"}, true
	case diag.FixRestartInstance:
		return confirmDialog{"Restart the instance?", "Reboots " + target.instance + " (soft first, then hard). Unsaved work is lost.", "Restart"}, true
	case diag.FixUndoOpenPorts:
		return confirmDialog{"Close the ports cvmlogin opened?",
			"Deletes the inbound rules cvmlogin added to " + target.group + " (described cvmlogin:…). Whatever they let in is blocked again.", "Close ports"}, true
	}
	return repairConfirm(action, target)
}

// joinPorts lists ports as "20, 21, 22".
func joinPorts(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}

// fixTarget names what a fix changes, for confirm dialogs.
type fixTarget struct {
	instance string // "ins-…" or "the instance"
	group    string // "sg-…" or "the instance's first security group"
	port     int    // the login port, 0 if unknown
	os       string // diag.OSLinux, diag.OSWindows, or "" if unknown
}

func targetNames(r *diag.Report) fixTarget {
	t := fixTarget{instance: "the instance", group: "the instance's first security group"}
	if r == nil || r.Instance == nil {
		return t
	}
	if r.Instance.ID != "" {
		t.instance = r.Instance.ID
	}
	if len(r.Instance.SecurityGroups) > 0 {
		t.group = r.Instance.SecurityGroups[0]
	}
	t.port, t.os = r.Instance.LoginPort, r.Instance.OS
	return t
}
