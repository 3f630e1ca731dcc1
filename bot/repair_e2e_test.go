package bot_test

import (
	"strings"
	"testing"
)

// TestGuestRepairThroughApproval: the open_guest_firewall button of a report
// whose guest firewall drops the login port asks an approver with the plan,
// runs the repair in the simulated guest once approved, and tells the
// outcome and what changed in the thread.
func TestGuestRepairThroughApproval(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	report, approval := requestFix(t, w, r, "ins-guestfw1", "open_guest_firewall", requester)
	dumpThreadOnFailure(t, w, report.TS)
	if !strings.Contains(approval.Text, "Run in the guest of ins-guestfw1") || !strings.Contains(approval.Text, "allow inbound TCP 22 in the guest firewall") {
		t.Fatalf("the approval request does not show the plan: %s", approval.Text)
	}
	value, _ := button(approval, "approve")
	r.press(t, approverA, "approve", value, approval.TS)
	w.waitThread(t, report.TS, "*Open port in guest firewall* (approved by")
	w.waitThread(t, report.TS, "ufw now allows 22/tcp")
	w.waitThread(t, report.TS, "what changed")
	if sc, _ := w.sim.Scenario("ins-guestfw1"); sc.Guest.FirewallBlocksLoginPort {
		t.Fatal("the guest firewall still blocks TCP 22 after the approved repair")
	}
}

// TestGuestFirewallUndo: after Open port in guest firewall, the re-diagnosed
// report offers Close port in guest firewall, which removes exactly that
// rule, with the firewall the open reported using.
func TestGuestFirewallUndo(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1", fourEyes(false))
	r.command(t, requester, "ins-guestfw1")
	report := w.finalReport(t, "open_guest_firewall")
	value, _ := button(report, "open_guest_firewall")
	r.press(t, approverA, "open_guest_firewall", value, report.TS)
	w.waitThread(t, report.TS, "what changed")

	updated := w.finalReport(t, "undo_guest_firewall")
	undo, _ := button(updated, "undo_guest_firewall")
	r.press(t, approverA, "undo_guest_firewall", undo, updated.TS)
	w.waitThread(t, report.TS, "*Close port in guest firewall* (approved by")
	if sc, _ := w.sim.Scenario("ins-guestfw1"); !sc.Guest.FirewallBlocksLoginPort {
		t.Fatal("the guest firewall still lets TCP 22 in after the approved undo")
	}
}
