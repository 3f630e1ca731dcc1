package diag_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencent"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
)

// simDiagnoser returns a diagnoser wired to a fresh simulator.
func simDiagnoser(t *testing.T, opts diag.Options) (*diag.Diagnoser, *tencentsim.Sim) {
	t.Helper()
	client, sim := simClient(t, tencentsim.Options{})
	opts.Region = "ap-guangzhou"
	opts.Dialer = sim.Dialer()
	return diag.NewDiagnoser(client, opts), sim
}

// simClient starts a simulator with simOpts and returns a Tencent client of
// ap-guangzhou pointed at it.
func simClient(t *testing.T, simOpts tencentsim.Options) (*tencent.Client, *tencentsim.Sim) {
	t.Helper()
	sim := tencentsim.New(simOpts)
	endpoint, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	client, err := tencent.New(tencent.Config{Region: "ap-guangzhou", Endpoint: endpoint, Scheme: "http",
		SecretID: tencentsim.TestSecretID, SecretKey: tencentsim.TestSecretKey, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return client, sim
}

// TestServiceFaultDegradesOnlyItsChecks: one service failing turns exactly
// the checks that read it into unknown, with the cause, and nothing else.
func TestServiceFaultDegradesOnlyItsChecks(t *testing.T) {
	tests := []struct {
		service, action, code string
		unknown               []diag.CheckID
	}{
		{"monitor", "GetMonitorData", "InternalError", []diag.CheckID{diag.CheckLoadCPU, diag.CheckLoadMemory, diag.CheckBandwidthUsage}},
		{"billing", "DescribeAccountBalance", "UnauthorizedOperation.CamNoAuth", []diag.CheckID{diag.CheckAccountArrears}},
		{"vpc", "DescribeSecurityGroupPolicies", "RequestLimitExceeded", []diag.CheckID{diag.CheckSGLoginPort, diag.CheckSGICMP}},
		{"tat", "RunCommand", "UnauthorizedOperation.CamAuthFailed", []diag.CheckID{diag.CheckGuestLoginService, diag.CheckGuestLoginConfig, diag.CheckGuestDisk}},
	}
	for _, tc := range tests {
		t.Run(tc.service, func(t *testing.T) {
			// Throttling is retried until the diagnosis's deadline: keep it short.
			d, sim := simDiagnoser(t, diag.Options{PortProbe: true, GuestChecks: true, GuestPoll: 10 * time.Millisecond, Timeout: 3 * time.Second, CheckTimeout: time.Second})
			sim.SetFault(tc.service, tc.action, tc.code)
			r, err := d.Diagnose(context.Background(), diag.Request{Target: diag.Target{Raw: "ins-linux001", Kind: diag.TargetInstanceID}})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range r.Findings {
				want := diag.StatusOK
				for _, id := range tc.unknown {
					if f.Check == id {
						want = diag.StatusUnknown
					}
				}
				if f.Status != want {
					t.Errorf("%s = %s (%s), want %s", f.Check, f.Status, f.Detail, want)
				}
				if want == diag.StatusUnknown && !strings.Contains(f.Detail, tc.code) {
					t.Errorf("%s detail %q does not name the cause %s", f.Check, f.Detail, tc.code)
				}
			}
		})
	}
}

// TestTargetFoundInAnotherRegion: not in the default region, the target is
// searched in tencentcloud.regions and the report says where it was found.
func TestTargetFoundInAnotherRegion(t *testing.T) {
	d, sim := simDiagnoser(t, diag.Options{Regions: []string{"ap-beijing", "ap-shanghai"}})
	sc := tencentsim.DefaultScenario()
	sc.ID, sc.Name, sc.Region, sc.PublicIPs = "ins-shanghai", "sh-web", "ap-shanghai", []string{"127.0.0.99"}
	if err := sim.AddScenario(sc); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"ins-shanghai", "sh-web", "127.0.0.99"} {
		parsed, err := diag.ParseTarget(target)
		if err != nil {
			t.Fatal(err)
		}
		r, err := d.Diagnose(context.Background(), diag.Request{Target: parsed})
		if err != nil {
			t.Fatal(err)
		}
		if f, _ := r.Finding(diag.CheckInstanceFound); f.Status != diag.StatusOK || r.Region != "ap-shanghai" || r.Instance == nil || r.Instance.ID != "ins-shanghai" {
			t.Fatalf("%s: region %q, instance.found %s %q", target, r.Region, f.Status, f.Title)
		}
	}
}

// TestSeveralInstancesWithOneName: a name shared by two instances fails
// instance.found and lists both.
func TestSeveralInstancesWithOneName(t *testing.T) {
	d, sim := simDiagnoser(t, diag.Options{})
	for i, id := range []string{"ins-twin0001", "ins-twin0002"} {
		sc := tencentsim.DefaultScenario()
		sc.ID, sc.Name, sc.PublicIPs = id, "twin", []string{[]string{"127.0.0.101", "127.0.0.102"}[i]}
		if err := sim.AddScenario(sc); err != nil {
			t.Fatal(err)
		}
	}
	r, err := d.Diagnose(context.Background(), diag.Request{Target: diag.Target{Raw: "twin", Kind: diag.TargetName}})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := r.Finding(diag.CheckInstanceFound)
	if f.Status != diag.StatusFail || !strings.Contains(f.Detail, "ins-twin0001") || !strings.Contains(f.Detail, "ins-twin0002") {
		t.Fatalf("instance.found = %s: %s", f.Status, f.Detail)
	}
	if r.Summary.Skipped != len(diag.CheckIDs)-1 {
		t.Fatalf("summary %+v: everything else should be skipped", r.Summary)
	}
}

// TestSimulatorSpeaksTheCheckCatalogue: the simulator states expectations in
// its own copy of the check IDs (it imports nothing from diag); the copy is
// the catalogue of design.md B3, in packet-path order.
func TestSimulatorSpeaksTheCheckCatalogue(t *testing.T) {
	ids := make([]string, len(diag.CheckIDs))
	for i, id := range diag.CheckIDs {
		ids[i] = string(id)
	}
	if !slices.Equal(ids, tencentsim.CheckIDs) {
		t.Fatalf("tencentsim.CheckIDs %v, want diag.CheckIDs %v", tencentsim.CheckIDs, ids)
	}
}
