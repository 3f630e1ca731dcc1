package bot_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencent"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
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
	}, 30*time.Second)
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

// fixCases are a fix of each kind: on which instance, the mutating call it
// makes, and what its outcome says.
var fixCases = []struct {
	target, fix, service, action, outcome string
}{
	{"ins-cpuhigh1", "restart_instance", "cvm", "RebootInstances", "The reboot of ins-cpuhigh1 succeeded"},
	{"ins-sgdrop01", "open_all_ports", "vpc", "CreateSecurityGroupPolicies", "Added 7 inbound rules"},
}

func TestFixRunsExactlyOnceAcrossReplicas(t *testing.T) {
	for _, tc := range fixCases {
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
	}, 30*time.Second)
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

// cloudChange stands between the replicas and the simulator and, once set,
// rewrites the DescribeInstances answers to requests that mention a string:
// the cloud changing in ways the simulator's control API cannot express (a
// public IP re-associated to another instance, another security group
// bound). Signatures stay valid: requests reach the simulator unchanged.
type cloudChange struct {
	sim           http.Handler
	mu            sync.Mutex
	when, old, to string
	after         map[string]func() // by action: run once, after the simulator answered and before the answer is relayed
}

// routeThrough makes w's replicas reach the simulator through a cloudChange.
// Call it before creating replicas.
func routeThrough(t *testing.T, w *world) *cloudChange {
	t.Helper()
	cc := &cloudChange{sim: w.sim.Handler(), after: map[string]func(){}}
	srv := httptest.NewServer(cc)
	t.Cleanup(srv.Close)
	client, err := tencent.New(tencent.Config{Region: "ap-guangzhou", Endpoint: strings.TrimPrefix(srv.URL, "http://"), Scheme: "http",
		SecretID: tencentsim.TestSecretID, SecretKey: tencentsim.TestSecretKey, RetryBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w.client = client
	return cc
}

// set rewrites old to new in every DescribeInstances answer to a request
// whose body contains when.
func (cc *cloudChange) set(when, old, to string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.when, cc.old, cc.to = when, old, to
}

// afterCall runs f once, when the simulator has answered the next call of
// action and before the caller sees the answer: the change is made, and the
// caller does not know yet.
func (cc *cloudChange) afterCall(action string, f func()) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.after[action] = f
}

func (cc *cloudChange) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	cc.sim.ServeHTTP(rec, r)
	out := rec.Body.Bytes()
	action := r.Header.Get("X-TC-Action")
	cc.mu.Lock()
	if action == "DescribeInstances" && cc.when != "" && bytes.Contains(body, []byte(cc.when)) {
		out = bytes.ReplaceAll(out, []byte(cc.old), []byte(cc.to))
	}
	hook := cc.after[action]
	delete(cc.after, action)
	cc.mu.Unlock()
	if hook != nil {
		hook()
	}
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(out)
}

// rediagnoseAndWait presses Diagnose again on report and waits for the
// re-diagnosis to be published.
func rediagnoseAndWait(t *testing.T, w *world, r *replica, report slackfake.Message) {
	t.Helper()
	value, _ := button(report, "rediagnose")
	r.press(t, requester, "rediagnose", value, report.TS)
	w.waitThread(t, report.TS, "Re-diagnosis for")
}

// fixAudit returns the fix.* audit events of the last hour.
func fixAudit(t *testing.T, r *replica) []conversations.Event {
	t.Helper()
	events, err := r.store.AuditEvents(t.Context(), time.Now().Add(-time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []conversations.Event
	for _, e := range events {
		if strings.HasPrefix(e.Action, "fix.") {
			out = append(out, e)
		}
	}
	return out
}

// TestApprovedPlanIsWhatRuns: the approval request names the instance, its
// region and group and the exact rules; a re-diagnosis between request and
// approval does not change what runs, and a plan that no longer applies
// changes nothing and says why (issue 8 §3).
func TestApprovedPlanIsWhatRuns(t *testing.T) {
	t.Run("another group bound since the request", func(t *testing.T) {
		w := newWorld(t)
		cc := routeThrough(t, w)
		r := w.replica(t, "r1")
		before, _ := w.sim.Scenario("ins-sgnone01")
		report, approval := requestFix(t, w, r, "ins-sgdrop01", "open_all_ports", requester)
		dumpThreadOnFailure(t, w, report.TS)
		for _, want := range []string{"ins-sgdrop01 (sgdrop-1) in ap-guangzhou", "security group sg-sgdrop01", "TCP 20, 21, 22, 80, 443, 3389 and ICMP from 0.0.0.0/0"} {
			if !strings.Contains(approval.Text, want) {
				t.Fatalf("the approval request does not say %q: %s", want, approval.Text)
			}
		}
		cc.set("ins-sgdrop01", "sg-sgdrop01", "sg-sgnone01") // the instance now has another group
		rediagnoseAndWait(t, w, r, report)

		value, _ := button(approval, "approve")
		r.press(t, approverA, "approve", value, approval.TS)
		w.waitThread(t, report.TS, "no longer attached")
		if n := w.sim.CallCount("vpc", "CreateSecurityGroupPolicies"); n != 0 {
			t.Fatalf("CreateSecurityGroupPolicies called %d times: the approved plan no longer applies", n)
		}
		after, _ := w.sim.Scenario("ins-sgnone01")
		if len(after.SecurityGroups[0].Ingress) != len(before.SecurityGroups[0].Ingress) {
			t.Fatalf("sg-sgnone01 was changed: %+v", after.SecurityGroups[0].Ingress)
		}
	})
	t.Run("public IP re-associated to another instance", func(t *testing.T) {
		w := newWorld(t)
		cc := routeThrough(t, w)
		r := w.replica(t, "r1")
		report, approval := requestFix(t, w, r, "127.0.0.23", "restart_instance", requester)
		dumpThreadOnFailure(t, w, report.TS)
		if !strings.Contains(approval.Text, "ins-cpuhigh1 (cpuhigh-1) in ap-guangzhou, found by 127.0.0.23") {
			t.Fatalf("the approval request does not name the instance and the address: %s", approval.Text)
		}
		cc.set("127.0.0.23", "ins-cpuhigh1", "ins-memhigh1") // the address moved
		rediagnoseAndWait(t, w, r, report)

		value, _ := button(approval, "approve")
		r.press(t, approverA, "approve", value, approval.TS)
		w.waitThread(t, report.TS, "127.0.0.23 now belongs to ins-memhigh1, not to ins-cpuhigh1")
		if n := w.sim.CallCount("cvm", "RebootInstances"); n != 0 {
			t.Fatalf("RebootInstances called %d times after the address moved", n)
		}
		for _, e := range fixAudit(t, r) {
			if e.InstanceID != "ins-cpuhigh1" {
				t.Fatalf("audit event %s names %s: only ins-cpuhigh1 was planned, and nothing was changed", e.Action, e.InstanceID)
			}
		}
	})
}

// count returns how many of events have action.
func count(events []conversations.Event, action string) int {
	n := 0
	for _, e := range events {
		if e.Action == action {
			n++
		}
	}
	return n
}

// threadCount returns how many replies in thread contain want.
func (w *world) threadCount(thread, want string) int {
	n := 0
	for _, text := range w.threadTexts(thread) {
		if strings.Contains(text, want) {
			n++
		}
	}
	return n
}

// shortLease makes a replica's fix lease expire fast, and its shutdown
// grace period grace.
func shortLease(grace time.Duration) replicaOption {
	return func(o *bot.Options) { o.FixLease, o.FixGrace = 300*time.Millisecond, grace }
}

// TestFixOfADeadReplicaIsReconciledOnce: a replica dies with the change
// made but not recorded (its Redis connection closes as the cloud answers);
// once its lease expires another replica reads the cloud, records the true
// outcome once, says so in the thread and, for opened ports, offers Undo,
// which finds the rules by description even when the request record is
// lost (issue 10 item 1).
func TestFixOfADeadReplicaIsReconciledOnce(t *testing.T) {
	for _, tc := range fixCases {
		t.Run(tc.fix, func(t *testing.T) {
			w := newWorld(t)
			cc := routeThrough(t, w)
			doomed := redistest.New(t)
			w.replicaRedis = map[string]redis.UniversalClient{"r1": doomed}
			r1 := w.replica(t, "r1", shortLease(time.Second))
			before, _ := w.sim.Scenario(tc.target)
			report, approval := requestFix(t, w, r1, tc.target, tc.fix, requester)
			dumpThreadOnFailure(t, w, report.TS)
			cc.afterCall(tc.action, func() { doomed.Close() })
			value, _ := button(approval, "approve")
			r1.press(t, approverA, "approve", value, approval.TS)
			w.slack.WaitFor(t, func() bool { return w.sim.CallCount(tc.service, tc.action) == 1 }, 30*time.Second)

			r2 := w.replica(t, "r2", shortLease(time.Second))
			w.waitThread(t, report.TS, "Recovered after cvmlogin stopped mid-fix: "+tc.outcome)
			time.Sleep(500 * time.Millisecond) // room for a second, wrong, outcome
			if n := w.threadCount(report.TS, "(approved by <@"+approverA+">)"); n != 1 {
				t.Fatalf("%d outcomes posted, want 1", n)
			}
			events := fixAudit(t, r2)
			if count(events, "fix.succeeded") != 1 || count(events, "fix.failed") != 0 {
				t.Fatalf("audit events %+v: want one fix.succeeded", events)
			}
			if n := w.sim.CallCount(tc.service, tc.action); n != 1 {
				t.Fatalf("%s called %d times, want 1", tc.action, n)
			}
			if tc.fix != "open_all_ports" {
				return
			}
			updated := w.finalReport(t, "undo_open_ports")
			after, _ := w.sim.Scenario(tc.target)
			fixID := strings.TrimPrefix(after.SecurityGroups[0].Ingress[0].Description, "cvmlogin:")
			if err := w.rdb.Del(t.Context(), w.prefix+"fix:{"+fixID+"}").Err(); err != nil { // the record is lost
				t.Fatal(err)
			}
			undo, _ := button(updated, "undo_open_ports")
			r2.press(t, approverA, "undo_open_ports", undo, updated.TS)
			w.waitThread(t, report.TS, "Delete the inbound rules described cvmlogin:"+fixID)
			undone := latestApproval(t, w, report.TS)
			value, _ = button(undone, "approve")
			r2.press(t, approverB, "approve", value, undone.TS)
			w.waitThread(t, report.TS, "Deleted 7 inbound rules")
			restored, _ := w.sim.Scenario(tc.target)
			if len(restored.SecurityGroups[0].Ingress) != len(before.SecurityGroups[0].Ingress) {
				t.Fatalf("after undo the group has %+v, want the original %d rules", restored.SecurityGroups[0].Ingress, len(before.SecurityGroups[0].Ingress))
			}
		})
	}
}

// latestApproval returns the newest approval request in thread.
func latestApproval(t *testing.T, w *world, thread string) slackfake.Message {
	t.Helper()
	var found slackfake.Message
	w.slack.WaitFor(t, func() bool {
		for _, m := range w.slack.Messages(channel) {
			if _, ok := button(m, "approve"); ok && m.ThreadTS == thread {
				found = m
			}
		}
		return found.TS != ""
	}, 30*time.Second)
	return found
}

// TestShutdownNeverRecordsAFixInHandAsFailed: on shutdown a fix in hand
// finishes within the grace period, or is handed over (in progress, lease
// released) and another replica records its outcome (issue 10 item 2).
func TestShutdownNeverRecordsAFixInHandAsFailed(t *testing.T) {
	tests := []struct {
		name     string
		grace    time.Duration
		slowPoll bool
		want     string
	}{
		{"finishes within the grace period", 5 * time.Second, false, "The reboot of ins-cpuhigh1 succeeded"},
		{"handed over", 200 * time.Millisecond, true, "Recovered after cvmlogin stopped mid-fix: The reboot of ins-cpuhigh1 succeeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			cc := routeThrough(t, w)
			r1 := w.replica(t, "r1", shortLease(tc.grace))
			report, approval := requestFix(t, w, r1, "ins-cpuhigh1", "restart_instance", requester)
			dumpThreadOnFailure(t, w, report.TS)
			stopped := make(chan struct{})
			cc.afterCall("RebootInstances", func() {
				if tc.slowPoll { // the watch cannot finish within the grace period
					w.sim.SetActionLatency("cvm", "DescribeInstances", 2*time.Second)
				}
				go func() { r1.stop(); close(stopped) }() // SIGTERM with the reboot in flight
			})
			value, _ := button(approval, "approve")
			r1.press(t, approverA, "approve", value, approval.TS)
			select {
			case <-stopped:
			case <-time.After(10 * time.Second):
				t.Fatal("the replica did not shut down")
			}
			w.sim.SetActionLatency("cvm", "DescribeInstances", 0)
			if tc.slowPoll {
				w.waitThread(t, report.TS, "still in progress")
				w.replica(t, "r2", shortLease(tc.grace))
			}
			w.waitThread(t, report.TS, tc.want)
			events := fixAudit(t, r1)
			if count(events, "fix.succeeded") != 1 || count(events, "fix.failed") != 0 {
				t.Fatalf("audit events %+v: want one fix.succeeded and no fix.failed", events)
			}
			if n := w.sim.CallCount("cvm", "RebootInstances"); n != 1 {
				t.Fatalf("RebootInstances called %d times, want 1", n)
			}
		})
	}
}

// TestOpenAllPortsConfirmNamesACustomLoginPort: the confirm dialog of Open
// all ports lists the login port diagnosed when it is not a usual one, as
// the plan opens it (issue 8 §1.1).
func TestOpenAllPortsConfirmNamesACustomLoginPort(t *testing.T) {
	r := &diag.Report{Target: "ins-abc12345", Region: "ap-guangzhou",
		Instance: &diag.InstanceSummary{ID: "ins-abc12345", LoginPort: 2222, SecurityGroups: []string{"sg-12345678"}}}
	blocks, err := json.Marshal(bot.RenderReport(bot.ReportView{Report: r, Final: true, Buttons: map[string]string{"open_all_ports": "v"}}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(blocks), "TCP 20, 21, 22, 80, 443, 3389, 2222 and ICMP") {
		t.Fatalf("the confirm dialog does not name port 2222: %s", blocks)
	}
}
