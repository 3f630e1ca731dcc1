package bot_test

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
)

// rawEnum matches enum values that must not reach people's text: security
// group verdicts, target kinds and fix results as code writes them.
var rawEnum = regexp.MustCompile(`\((no_match|drop|partial|indeterminate|accept)\)|\b(no_match|not_applicable|instance_id|public_ip) "|\bis (fail|skipped|unknown|warn):`)

// TestScenarioTextAgreesWithButtons diagnoses every simulator scenario and
// checks what people read: "press X" names a button label of the fix
// catalogue, every drawn button has a catalogue label, at most one button
// is primary and it is the likely cause's fix, and no raw enum value leaks
// into a title, detail or remediation.
func TestScenarioTextAgreesWithButtons(t *testing.T) {
	w := newWorld(t)
	d := diag.NewDiagnoser(w.client, diag.Options{Region: "ap-guangzhou", PortProbe: true, ProbeTimeout: 100 * time.Millisecond,
		GuestChecks: true, GuestPoll: 10 * time.Millisecond, Dialer: w.sim.Dialer()})
	pressed := regexp.MustCompile(`press ([A-Z][a-z]+(?: [a-z0-9]+)*)`)
	for _, sc := range append(tencentsim.Builtin(), tencentsim.Scenario{ID: "ins-missing1"}) {
		t.Run(sc.ID, func(t *testing.T) {
			target, _ := diag.ParseTarget(sc.ID)
			r, err := d.Diagnose(context.Background(), diag.Request{Target: target})
			if err != nil {
				t.Fatal(err)
			}
			port := 0
			if r.Instance != nil {
				port = r.Instance.LoginPort
			}
			labels := append(diag.FixLabels(port), diag.LabelRediagnose, diag.LabelExport)
			for _, f := range r.Findings {
				for _, m := range pressed.FindAllStringSubmatch(f.Remediation, -1) {
					if !slices.Contains(labels, m[1]) {
						t.Errorf("%s: remediation says press %q, which is no button (%q)", f.Check, m[1], labels)
					}
				}
				for _, text := range []string{f.Title, f.Detail, f.Remediation} {
					if m := rawEnum.FindString(text); m != "" {
						t.Errorf("%s: raw value %q in %q", f.Check, m, text)
					}
				}
			}
			var b strings.Builder
			if err := r.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			if m := rawEnum.FindString(b.String()); m != "" {
				t.Errorf("raw value %q in the text report", m)
			}
		})
	}
}

// TestCauseNotFoundOffersRestartAndTicket: with nothing failing, the report
// says the cause was not found, offers Restart instance as Tencent's guide
// does, and links the ticket page; the export reads as a ticket with what
// was tried in the thread.
func TestCauseNotFoundOffersRestartAndTicket(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	resp, _ := r.command(t, requester, "ins-linux001")
	mustStatus(t, resp, http.StatusOK)
	report := w.finalReport(t, "restart_instance")
	text := blocksText(report)
	for _, want := range []string{"Cause not found", "restart the instance and try again", diag.TicketURL} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	restart, _ := button(report, "restart_instance")
	mustStatus(t, r.press(t, requester, "restart_instance", restart, report.TS), http.StatusOK)
	w.waitThread(t, report.TS, "asks to *Restart instance*") // the approval request: a restart runs only once approved

	value, _ := button(report, "export_report")
	mustStatus(t, r.press(t, requester, "export_report", value, report.TS), http.StatusOK)
	w.slack.WaitFor(t, func() bool { return len(w.slack.Files()) == 2 }, 30*time.Second)
	for _, f := range w.slack.Files() {
		if !strings.HasSuffix(f.Filename, ".md") {
			continue
		}
		md := string(f.Content)
		for _, want := range []string{"| Instance | ins-linux001 |", "| Region | ap-guangzhou |", "Diagnosed at", diag.TicketURL,
			"## What was tried", "diagnosis of ins-linux001 started", "requested Restart instance", "DescribeInstances"} {
			if !strings.Contains(md, want) {
				t.Errorf("the Markdown export lacks %q:\n%s", want, md)
			}
		}
	}
}
