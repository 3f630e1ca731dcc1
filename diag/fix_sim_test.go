package diag_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencent"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
)

const simRegion = "ap-guangzhou"

// simCloud is the simulator on loopback, reached through the real adapter.
type simCloud struct {
	sim    *tencentsim.Sim
	client *tencent.Client
	fixer  *diag.Fixer
}

// mustStartSim starts a simulator with the built-in scenarios, whose
// reboots and starts take rebootDuration, and a Fixer on it that polls fast.
func mustStartSim(tb testing.TB, rebootDuration time.Duration) *simCloud {
	tb.Helper()
	sim := tencentsim.New(tencentsim.Options{RebootDuration: rebootDuration})
	endpoint, err := sim.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("starting the simulator: %v", err)
	}
	tb.Cleanup(sim.Close)
	client, err := tencent.New(tencent.Config{Endpoint: endpoint, Scheme: "http", Region: simRegion,
		SecretID: tencentsim.TestSecretID, SecretKey: tencentsim.TestSecretKey, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatalf("tencent.New: %v", err)
	}
	fixer := diag.NewFixer(client, client, diag.FixerOptions{PollInterval: 10 * time.Millisecond, WatchTimeout: 10 * time.Second})
	return &simCloud{sim: sim, client: client, fixer: fixer}
}

// diagnose runs a fresh diagnosis of id with the port probe on.
func (s *simCloud) diagnose(tb testing.TB, id string) *diag.Report {
	tb.Helper()
	d := diag.NewDiagnoser(s.client, diag.Options{Region: simRegion, PortProbe: true, ProbeTimeout: 300 * time.Millisecond, Dialer: s.sim.Dialer()})
	r, err := d.Diagnose(context.Background(), diag.Request{Target: diag.Target{Raw: id, Kind: diag.TargetInstanceID}})
	if err != nil {
		tb.Fatalf("diagnosing %s: %v", id, err)
	}
	return r
}

// plan diagnoses id and plans action on what the diagnosis found, as the bot does.
func (s *simCloud) plan(tb testing.TB, fixID string, action diag.FixAction, id, undoOf string) diag.FixPlan {
	tb.Helper()
	r := s.diagnose(tb, id)
	p, err := diag.PlanFix(fixID, action, *r.Instance, r.Region, undoOf)
	if err != nil {
		tb.Fatalf("PlanFix: %v", err)
	}
	return p
}

func (s *simCloud) execute(tb testing.TB, p diag.FixPlan, wantResult diag.FixStatus) diag.FixOutcome {
	tb.Helper()
	s.sim.ResetCalls()
	out, err := s.fixer.Execute(context.Background(), p)
	if err != nil || out.Result != wantResult {
		tb.Fatalf("Execute(%s) = %+v, %v; want %s", p.Action, out, err, wantResult)
	}
	return out
}

func (s *simCloud) ingress(tb testing.TB, groupID string) []string {
	tb.Helper()
	g, err := s.client.SecurityGroupPolicies(context.Background(), simRegion, groupID)
	if err != nil {
		tb.Fatalf("reading %s: %v", groupID, err)
	}
	var rules []string
	for _, p := range g.Ingress {
		rules = append(rules, fmt.Sprintf("%d %s %s %s %s %s", p.Index, p.Action, p.Protocol, p.Port, p.CidrBlock, p.Description))
	}
	return rules
}

func wantStatus(tb testing.TB, r *diag.Report, want map[diag.CheckID]diag.Status) {
	tb.Helper()
	for id, status := range want {
		if f, _ := r.Finding(id); f.Status != status {
			tb.Errorf("%s = %s (%s: %s), want %s", id, f.Status, f.Title, f.Detail, status)
		}
	}
}

func TestSimOpenAllPortsThenUndo(t *testing.T) {
	s := mustStartSim(t, 0)
	before := s.ingress(t, "sg-sgdrop01")
	wantStatus(t, s.diagnose(t, "ins-sgdrop01"), map[diag.CheckID]diag.Status{diag.CheckSGLoginPort: diag.StatusFail, diag.CheckPortReachable: diag.StatusFail})

	out := s.execute(t, s.plan(t, "fixopen01", diag.FixOpenAllPorts, "ins-sgdrop01", ""), diag.FixSucceeded)
	if n := s.sim.CallCount("vpc", "CreateSecurityGroupPolicies"); n != 1 || len(out.Added) != 7 || len(out.RequestIDs) != 1 {
		t.Fatalf("%d CreateSecurityGroupPolicies calls, outcome %+v; want one call adding 7 rules", n, out)
	}
	want := []string{
		"0 ACCEPT TCP 20 0.0.0.0/0 cvmlogin:fixopen01", "1 ACCEPT TCP 21 0.0.0.0/0 cvmlogin:fixopen01",
		"2 ACCEPT TCP 22 0.0.0.0/0 cvmlogin:fixopen01", "3 ACCEPT TCP 80 0.0.0.0/0 cvmlogin:fixopen01",
		"4 ACCEPT TCP 443 0.0.0.0/0 cvmlogin:fixopen01", "5 ACCEPT TCP 3389 0.0.0.0/0 cvmlogin:fixopen01",
		"6 ACCEPT ICMP ALL 0.0.0.0/0 cvmlogin:fixopen01",
		"7 DROP ALL ALL 0.0.0.0/0 lock down", "8 ACCEPT TCP 22 0.0.0.0/0 ssh", "9 ACCEPT ICMP ALL 0.0.0.0/0 ping",
	}
	if got := s.ingress(t, "sg-sgdrop01"); !slices.Equal(got, want) {
		t.Fatalf("ingress after opening:\n%q\nwant\n%q", got, want)
	}
	wantStatus(t, s.diagnose(t, "ins-sgdrop01"), map[diag.CheckID]diag.Status{diag.CheckSGLoginPort: diag.StatusOK, diag.CheckPortReachable: diag.StatusOK})

	undo := s.execute(t, s.plan(t, "fixundo01", diag.FixUndoOpenPorts, "ins-sgdrop01", "fixopen01"), diag.FixSucceeded)
	if n := s.sim.CallCount("vpc", "DeleteSecurityGroupPolicies"); n != 1 || len(undo.Deleted) != 7 {
		t.Fatalf("%d DeleteSecurityGroupPolicies calls, outcome %+v; want one call deleting 7 rules", n, undo)
	}
	if got := s.ingress(t, "sg-sgdrop01"); !slices.Equal(got, before) {
		t.Fatalf("ingress after undoing:\n%q\nwant the original\n%q", got, before)
	}
}

func TestSimOpenLoginPortAlreadyOpen(t *testing.T) {
	s := mustStartSim(t, 0)
	out := s.execute(t, s.plan(t, "fixlogin01", diag.FixOpenLoginPort, "ins-linux001", ""), diag.FixNotApplicable)
	if n := s.sim.CallCount("vpc", "CreateSecurityGroupPolicies"); n != 0 || len(out.RequestIDs) != 0 {
		t.Fatalf("%d CreateSecurityGroupPolicies calls, outcome %+v; want none", n, out)
	}
}

func TestSimRestartClearsCPULoad(t *testing.T) {
	s := mustStartSim(t, 100*time.Millisecond)
	wantStatus(t, s.diagnose(t, "ins-cpuhigh1"), map[diag.CheckID]diag.Status{diag.CheckLoadCPU: diag.StatusFail})

	out := s.execute(t, s.plan(t, "fixboot01", diag.FixRestartInstance, "ins-cpuhigh1", ""), diag.FixSucceeded)
	reboots := s.sim.CallCount("cvm", "RebootInstances")
	if reboots != 1 || out.FinalState != "RUNNING" || len(out.RequestIDs) != 1 {
		t.Fatalf("%d RebootInstances calls, outcome %+v; want one, RUNNING at the end", reboots, out)
	}
	wantStatus(t, s.diagnose(t, "ins-cpuhigh1"), map[diag.CheckID]diag.Status{diag.CheckLoadCPU: diag.StatusOK, diag.CheckInstanceState: diag.StatusOK})
}

func TestSimStartStoppedInstance(t *testing.T) {
	s := mustStartSim(t, 50*time.Millisecond)
	out := s.execute(t, s.plan(t, "fixstart01", diag.FixStartInstance, "ins-stopped1", ""), diag.FixSucceeded)
	sc, _ := s.sim.Scenario("ins-stopped1")
	if n := s.sim.CallCount("cvm", "StartInstances"); n != 1 || out.FinalState != "RUNNING" || sc.State != "RUNNING" {
		t.Fatalf("%d StartInstances calls, outcome %+v, simulated state %s; want one call and RUNNING", n, out, sc.State)
	}
}

func TestSimRestartStoppedInstanceNotApplicable(t *testing.T) {
	s := mustStartSim(t, 0)
	out := s.execute(t, s.plan(t, "fixboot02", diag.FixRestartInstance, "ins-stopped1", ""), diag.FixNotApplicable)
	if n := s.sim.CallCount("cvm", "RebootInstances"); n != 0 || out.FinalState != "STOPPED" {
		t.Fatalf("%d RebootInstances calls, outcome %+v; want none", n, out)
	}
}

// TestSimOpenAllPortsOpensACustomLoginPort: diagnosed with --port 2222, a
// blocked login port offers only fixes that open 2222, and after Open all
// ports the security group lets 2222 in (issue 8 §1.1).
func TestSimOpenAllPortsOpensACustomLoginPort(t *testing.T) {
	s := mustStartSim(t, 0)
	d := diag.NewDiagnoser(s.client, diag.Options{Region: simRegion})
	diagnose := func() *diag.Report {
		r, err := d.Diagnose(context.Background(), diag.Request{Target: diag.Target{Raw: "ins-sgdrop01", Kind: diag.TargetInstanceID}, Port: 2222})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := diagnose()
	wantStatus(t, r, map[diag.CheckID]diag.Status{diag.CheckSGLoginPort: diag.StatusFail})
	f, _ := r.Finding(diag.CheckSGLoginPort)
	if !slices.Contains(f.Fixes, diag.FixOpenAllPorts) {
		t.Fatalf("fixes %v: open_all_ports opens 2222 and should be offered", f.Fixes)
	}
	p, err := diag.PlanReportFix("fixopen02", diag.FixOpenAllPorts, r, "")
	if err != nil {
		t.Fatal(err)
	}
	s.execute(t, p, diag.FixSucceeded)
	wantStatus(t, diagnose(), map[diag.CheckID]diag.Status{diag.CheckSGLoginPort: diag.StatusOK})
}
