package bot_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// requestFix diagnoses target, presses fix as user and returns the report
// message and the approval request posted in its thread.
func requestFix(t *testing.T, w *world, r *replica, target, fix, user string) (report, approval slackfake.Message) {
	t.Helper()
	r.command(t, requester, target)
	report = w.finalReport(t, fix)
	value, _ := button(report, fix)
	mustStatus(t, r.press(t, user, fix, value, report.TS), http.StatusOK)
	w.slack.WaitFor(t, func() bool {
		for _, m := range w.slack.Messages(channel) {
			if _, ok := button(m, "approve"); ok && m.ThreadTS == report.TS {
				approval = m
				return true
			}
		}
		return false
	}, 10*time.Second)
	return report, approval
}

// stormApprovals presses approve 50 times at once, from two approvers,
// across every replica.
func stormApprovals(t *testing.T, replicas []*replica, approval slackfake.Message) {
	t.Helper()
	value, _ := button(approval, "approve")
	var wg sync.WaitGroup
	for i := range 50 {
		r := replicas[i%len(replicas)]
		user := []string{approverA, approverB}[i%2]
		wg.Go(func() { r.press(t, user, "approve", value, approval.TS) })
	}
	wg.Wait()
}

func TestFixRunsExactlyOnceAcrossReplicas(t *testing.T) {
	tests := []struct {
		target, fix, service, action, outcome string
	}{
		{"ins-cpuhigh1", "restart_instance", "cvm", "RebootInstances", "Restart"},
		{"ins-sgdrop01", "open_all_ports", "vpc", "CreateSecurityGroupPolicies", "Added 7 inbound rules"},
	}
	for _, tc := range tests {
		t.Run(tc.fix, func(t *testing.T) {
			w := newWorld(t)
			r1, r2 := w.replica(t, "r1"), w.replica(t, "r2")
			report, approval := requestFix(t, w, r1, tc.target, tc.fix, requester)
			stormApprovals(t, []*replica{r1, r2}, approval)
			dumpThreadOnFailure(t, w, report.TS)
			w.waitThread(t, report.TS, tc.outcome)
			w.waitThread(t, report.TS, "what changed")
			if n := w.sim.CallCount(tc.service, tc.action); n != 1 {
				t.Fatalf("%s called %d times, want exactly 1", tc.action, n)
			}
			w.slack.WaitFor(t, func() bool {
				for _, m := range w.slack.Messages(channel) {
					if m.TS == approval.TS {
						_, stillOpen := button(m, "approve")
						return !stillOpen && strings.Contains(m.Text, "Approved by")
					}
				}
				return false
			}, 5*time.Second)
			if tc.fix == "open_all_ports" {
				sc, _ := w.sim.Scenario(tc.target)
				ingress := sc.SecurityGroups[0].Ingress
				for i := range 7 {
					if !strings.HasPrefix(ingress[i].Description, "cvmlogin:") {
						t.Fatalf("rule %d is %+v: the opened rules must sit at the top", i, ingress[i])
					}
				}
			}
		})
	}
}

func TestApprovalRefusalsNeverTouchTheCloud(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1")
	report, approval := requestFix(t, w, r, "ins-cpuhigh1", "restart_instance", approverA)
	value, _ := button(approval, "approve")

	r.press(t, approverA, "approve", value, approval.TS) // an approver, but the one who asked
	w.waitEphemeral(t, approverA, "four-eyes")
	r.press(t, outsider, "approve", value, approval.TS)
	w.waitEphemeral(t, outsider, "Only approvers")
	r.press(t, approverA, "approve", value+"x", approval.TS)
	w.waitEphemeral(t, approverA, "not valid here")
	rediagnose, _ := button(report, "rediagnose")
	r.press(t, approverA, "approve", rediagnose, approval.TS) // a real value, but another button's
	w.slack.WaitFor(t, func() bool { return len(w.ephemerals(approverA)) >= 3 }, 5*time.Second)

	w.advance(16 * time.Minute) // past the 15-minute approval window
	r.press(t, approverB, "approve", value, approval.TS)
	w.waitEphemeral(t, approverB, "expired")
	if n := w.sim.CallCount("cvm", "RebootInstances"); n != 0 {
		t.Fatalf("refused approvals called RebootInstances %d times", n)
	}
}

func TestUndoRemovesExactlyTheAddedRules(t *testing.T) {
	w := newWorld(t)
	r := w.replica(t, "r1", fourEyes(false))
	before, _ := w.sim.Scenario("ins-sgdrop01")
	r.command(t, requester, "ins-sgdrop01")
	report := w.finalReport(t, "open_all_ports")
	value, _ := button(report, "open_all_ports")
	r.press(t, approverA, "open_all_ports", value, report.TS)
	w.waitThread(t, report.TS, "what changed")

	updated := w.finalReport(t, "undo_open_ports")
	undo, _ := button(updated, "undo_open_ports")
	r.press(t, approverA, "undo_open_ports", undo, updated.TS)
	w.waitThread(t, report.TS, "Deleted")
	after, _ := w.sim.Scenario("ins-sgdrop01")
	got, want := after.SecurityGroups[0].Ingress, before.SecurityGroups[0].Ingress
	if len(got) != len(want) {
		t.Fatalf("ingress has %d rules after undo, want the original %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Protocol != want[i].Protocol || got[i].Port != want[i].Port || got[i].Action != want[i].Action || got[i].Description != want[i].Description {
			t.Fatalf("rule %d is %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestApproverGroups: members of an approver user group may approve; when
// Slack will not list a group (missing scope, free plan) only the explicit
// approvers can.
func TestApproverGroups(t *testing.T) {
	w := newWorld(t)
	w.slack.SetGroupMembers("S0ONCALL", outsider)
	w.slack.FailGroup("S0FREEPLAN", "paid_teams_only")
	r := w.replica(t, "r1", func(o *bot.Options) { o.Approvers, o.ApproverGroups = nil, []string{"S0FREEPLAN", "S0ONCALL"} })
	report, approval := requestFix(t, w, r, "ins-cpuhigh1", "restart_instance", requester)
	value, _ := button(approval, "approve")

	r.press(t, approverA, "approve", value, approval.TS) // listed nowhere now, and not in the groups
	w.waitEphemeral(t, approverA, "Only approvers")
	r.press(t, outsider, "approve", value, approval.TS) // a member of S0ONCALL
	w.waitThread(t, report.TS, "(approved by <@"+outsider+">)")
	if n := w.sim.CallCount("cvm", "RebootInstances"); n != 1 {
		t.Fatalf("RebootInstances called %d times, want 1", n)
	}
}

// TestUndecidedRequestExpiresVisibly: when nobody decides in time, the
// approval request says it expired, its buttons go, and the audit trail
// records it once, even with two replicas sweeping.
func TestUndecidedRequestExpiresVisibly(t *testing.T) {
	w := newWorld(t)
	r1 := w.replica(t, "r1")
	w.replica(t, "r2") // sweeps for expiries too
	_, approval := requestFix(t, w, r1, "ins-cpuhigh1", "restart_instance", requester)

	w.advance(16 * time.Minute)
	w.slack.WaitFor(t, func() bool {
		for _, m := range w.slack.Messages(channel) {
			if m.TS == approval.TS {
				_, open := button(m, "approve")
				return !open && strings.Contains(m.Text, "Expired at")
			}
		}
		return false
	}, 10*time.Second)
	events, err := r1.store.AuditEvents(t.Context(), time.Now().Add(-time.Hour), "ins-cpuhigh1")
	if err != nil {
		t.Fatal(err)
	}
	expired := 0
	for _, e := range events {
		if e.Action == "fix.expired" {
			expired++
		}
	}
	if expired != 1 {
		t.Fatalf("%d fix.expired audit events, want 1", expired)
	}
	if n := w.sim.CallCount("cvm", "RebootInstances"); n != 0 {
		t.Fatalf("an expired request rebooted the instance %d times", n)
	}
}
