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
	ActionRediagnose,
	ActionExportReport,
}

// ButtonsFor returns the action IDs that make sense for r, in button order:
// the fixes proposed by its findings that need attention (fail, unknown,
// warn), then ActionRediagnose and ActionExportReport. undo_open_ports is
// never among them: the caller adds it when the bot opened ports. Fix actions
// the report message cannot draw are left out.
func ButtonsFor(r *diag.Report) []string {
	wanted := map[string]bool{ActionRediagnose: true, ActionExportReport: true}
	if r != nil {
		for _, f := range r.Findings {
			if !needsAttention(f.Status) {
				continue
			}
			for _, fix := range f.Fixes {
				if fix != diag.FixUndoOpenPorts {
					wanted[string(fix)] = true
				}
			}
		}
	}
	return slices.DeleteFunc(slices.Clone(buttonOrder), func(id string) bool { return !wanted[id] })
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

// joinPorts lists ports as "20, 21, 22".
func joinPorts(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}

// describeButton returns the look of action id's button for report r.
func describeButton(id string, r *diag.Report) buttonLook {
	target := targetNames(r)
	switch id {
	case string(diag.FixOpenLoginPort):
		port, rule := "the login port", "TCP on the login port"
		if target.port != 0 {
			port, rule = "port "+strconv.Itoa(target.port), "TCP "+strconv.Itoa(target.port)
		}
		return buttonLook{"Open " + port, slack.StylePrimary, &confirmDialog{
			title: "Open " + port + "?",
			text:  fmt.Sprintf("Adds an inbound rule at the top of %s: %s from 0.0.0.0/0. Everyone can reach %s.", target.group, rule, port),
			ok:    "Open " + port,
		}}
	case string(diag.FixOpenAllPorts):
		return buttonLook{"Open all ports", slack.StyleDanger, &confirmDialog{
			title: "Open all ports?",
			text:  "Adds inbound rules at the top of " + target.group + ": TCP " + joinPorts(diag.OpenAllPortsTCP(target.port)) + " and ICMP from 0.0.0.0/0. Everyone can reach these ports.",
			ok:    "Open all ports",
		}}
	case string(diag.FixStartInstance):
		return buttonLook{"Start instance", slack.StyleDanger, &confirmDialog{
			title: "Start the instance?",
			text:  "Starts " + target.instance + ". A pay-as-you-go instance is billed again while it runs.",
			ok:    "Start",
		}}
	case string(diag.FixRestartInstance):
		return buttonLook{"Restart instance", slack.StyleDanger, &confirmDialog{
			title: "Restart the instance?",
			text:  "Reboots " + target.instance + " (soft first, then hard). Unsaved work is lost.",
			ok:    "Restart",
		}}
	case string(diag.FixUndoOpenPorts):
		return buttonLook{"Close opened ports", slack.StyleDanger, &confirmDialog{
			title: "Close the ports cvmlogin opened?",
			text:  "Deletes the inbound rules cvmlogin added to " + target.group + " (described cvmlogin:…). Whatever they let in is blocked again.",
			ok:    "Close ports",
		}}
	case ActionRediagnose:
		return buttonLook{label: "Diagnose again"}
	case ActionExportReport:
		return buttonLook{label: "Export report"}
	}
	if look, ok := repairButtonLook(id, target); ok {
		return look
	}
	return buttonLook{label: id}
}

// fixTarget names what a fix changes, for confirm dialogs.
type fixTarget struct {
	instance string // "ins-…" or "the instance"
	group    string // "sg-…" or "the instance's first security group"
	port     int    // the login port, 0 if unknown
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
	t.port = r.Instance.LoginPort
	return t
}
