package diag_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
)

// diagnoseGuest diagnoses id with the port probe and the guest checks on.
func (s *simCloud) diagnoseGuest(tb testing.TB, id string) *diag.Report {
	tb.Helper()
	d := diag.NewDiagnoser(s.client, diag.Options{Region: simRegion, PortProbe: true, ProbeTimeout: 300 * time.Millisecond, Dialer: s.sim.Dialer(),
		GuestChecks: true, GuestPoll: 5 * time.Millisecond})
	r, err := d.Diagnose(context.Background(), diag.Request{Target: diag.Target{Raw: id, Kind: diag.TargetInstanceID}})
	if err != nil {
		tb.Fatalf("diagnosing %s: %v", id, err)
	}
	return r
}

// planOffered diagnoses id, checks that the finding of check offers action,
// and plans it from the report, as the bot does when its button is pressed.
func (s *simCloud) planOffered(tb testing.TB, fixID string, action diag.FixAction, id string, check diag.CheckID) diag.FixPlan {
	tb.Helper()
	r := s.diagnoseGuest(tb, id)
	if f, _ := r.Finding(check); !slices.Contains(f.Fixes, action) {
		tb.Fatalf("%s (%s: %s) offers %v, not %s", check, f.Status, f.Title, f.Fixes, action)
	}
	p, err := diag.PlanReportFix(fixID, action, r, "")
	if err != nil {
		tb.Fatalf("planning %s: %v", action, err)
	}
	return p
}

func TestSimGuestFirewallOpenThenUndo(t *testing.T) {
	s := mustStartSim(t, 0)
	blocked := map[diag.CheckID]diag.Status{diag.CheckPortReachable: diag.StatusFail, diag.CheckGuestLoginConfig: diag.StatusFail, diag.CheckSGLoginPort: diag.StatusOK}
	wantStatus(t, s.diagnoseGuest(t, "ins-guestfw1"), blocked)

	open := s.planOffered(t, "fixgfw01", diag.FixOpenGuestFirewall, "ins-guestfw1", diag.CheckGuestLoginConfig)
	out := s.execute(t, open, diag.FixSucceeded)
	if n := s.sim.CallCount("tat", "RunCommand"); n != 1 || out.Undo != "ufw" || len(out.RequestIDs) != 1 {
		t.Fatalf("%d RunCommand calls, outcome %+v; want one, undone by ufw", n, out)
	}
	wantStatus(t, s.diagnoseGuest(t, "ins-guestfw1"), map[diag.CheckID]diag.Status{diag.CheckPortReachable: diag.StatusOK, diag.CheckGuestLoginConfig: diag.StatusOK})

	undo, err := diag.PlanUndoGuestFirewall("fixgfw02", open, out.Undo)
	if err != nil {
		t.Fatal(err)
	}
	s.execute(t, undo, diag.FixSucceeded)
	wantStatus(t, s.diagnoseGuest(t, "ins-guestfw1"), blocked)
	s.execute(t, undo, diag.FixNotApplicable) // the rule is gone: nothing more to undo
}

func TestSimFixAuthorizedKeys(t *testing.T) {
	s := mustStartSim(t, 0)
	p := s.planOffered(t, "fixkey01", diag.FixFixAuthorizedKeys, "ins-keymode1", diag.CheckGuestLoginConfig)
	if p.LoginUser != "root" {
		t.Fatalf("planned for login user %q, want the instance's DefaultLoginUser root", p.LoginUser)
	}
	if out := s.execute(t, p, diag.FixSucceeded); out.Before == "" || !strings.Contains(out.Summary, "(before: 755 root:root;777 root:root;666 root:root)") {
		t.Errorf("outcome %+v does not record the modes before, for the audit", out)
	}
	wantStatus(t, s.diagnoseGuest(t, "ins-keymode1"), map[diag.CheckID]diag.Status{diag.CheckGuestLoginConfig: diag.StatusOK})
	s.execute(t, p, diag.FixNotApplicable)
}

func TestSimEnableRDP(t *testing.T) {
	s := mustStartSim(t, 0)
	p := s.planOffered(t, "fixrdp01", diag.FixEnableRDP, "ins-rdpoff01", diag.CheckGuestLoginConfig)
	s.execute(t, p, diag.FixSucceeded)
	wantStatus(t, s.diagnoseGuest(t, "ins-rdpoff01"), map[diag.CheckID]diag.Status{
		diag.CheckPortReachable: diag.StatusOK, diag.CheckGuestLoginService: diag.StatusOK, diag.CheckGuestLoginConfig: diag.StatusOK})
}

func TestSimRestartLoginService(t *testing.T) {
	s := mustStartSim(t, 0)
	p := s.planOffered(t, "fixsvc01", diag.FixRestartLoginService, "ins-portdown", diag.CheckGuestLoginService)
	s.execute(t, p, diag.FixSucceeded)
	wantStatus(t, s.diagnoseGuest(t, "ins-portdown"), map[diag.CheckID]diag.Status{diag.CheckPortReachable: diag.StatusOK, diag.CheckGuestLoginService: diag.StatusOK})
}

// TestSimEnableRDPFirewallRules: Windows Firewall with its Remote Desktop
// rules disabled drops 3389; enable_rdp enables them.
func TestSimEnableRDPFirewallRules(t *testing.T) {
	s := mustStartSim(t, 0)
	sc := tencentsim.DefaultScenario()
	sc.ID, sc.OS, sc.PublicIPs = "ins-winfw001", "windows", []string{"127.0.0.64"}
	sc.Guest.GuestFirewall, sc.Guest.FirewallBlocksLoginPort = "windows", true
	if err := s.sim.AddScenario(sc); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, s.diagnoseGuest(t, "ins-winfw001"), map[diag.CheckID]diag.Status{diag.CheckPortReachable: diag.StatusFail, diag.CheckGuestLoginConfig: diag.StatusFail})
	out := s.execute(t, s.planOffered(t, "fixrdp02", diag.FixEnableRDP, "ins-winfw001", diag.CheckGuestLoginConfig), diag.FixSucceeded)
	if !strings.Contains(out.Summary, "disabled Remote Desktop firewall rules: 3") {
		t.Errorf("summary %q does not tell the rules were disabled before", out.Summary)
	}
	wantStatus(t, s.diagnoseGuest(t, "ins-winfw001"), map[diag.CheckID]diag.Status{diag.CheckPortReachable: diag.StatusOK, diag.CheckGuestLoginConfig: diag.StatusOK})
}
