package diag

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestPlanUndoGuestFirewall(t *testing.T) {
	linux := InstanceSummary{ID: "ins-abc12345", Name: "web-1", OS: OSLinux, LoginPort: 22, LoginUser: "root"}
	opened, err := PlanFix("fixopen1", FixOpenGuestFirewall, linux, "ap-guangzhou", "")
	if err != nil {
		t.Fatal(err)
	}
	undo, err := PlanUndoGuestFirewall("fixundo1", opened, "ufw")
	if err != nil {
		t.Fatal(err)
	}
	want := "Run in the guest of ins-abc12345 (web-1) in ap-guangzhou: delete ufw's allow rule for TCP 22, which fix fixopen1 added."
	if got := undo.Describe(); got != want || undo.UndoOf != "fixopen1" || undo.Mechanism != "ufw" {
		t.Fatalf("plan %+v describes %q; want %q", undo, got, want)
	}
	cmd, err := RepairCommand(undo.Action, undo.OS, undo.InstanceID, undo.repairParams())
	if err != nil || !strings.Contains(cmd.Script, "CVMLOGIN_FIX_ID='fixopen1'") || !strings.Contains(cmd.Script, "CVMLOGIN_MECHANISM='ufw'") {
		t.Fatalf("the undo script does not target fix fixopen1 by ufw (%v):\n%.300s", err, cmd.Script)
	}
	for _, tc := range []struct {
		name      string
		opened    FixPlan
		mechanism string
	}{
		{"no mechanism", opened, ""},
		{"another OS's mechanism", opened, "windows"},
		{"not a mechanism", opened, "nft;reboot"},
		{"not an open_guest_firewall", FixPlan{ID: "fix2", Action: FixRestartLoginService, InstanceID: "ins-abc12345", Region: "ap-guangzhou", OS: OSLinux, Port: 22}, "ufw"},
	} {
		if p, err := PlanUndoGuestFirewall("fixundo1", tc.opened, tc.mechanism); err == nil {
			t.Errorf("%s: planned %+v, want an error", tc.name, p)
		}
	}
}

// TestExecuteRejectsTamperedRepairPlans: a stored repair plan that PlanFix
// could not have made is refused before anything runs.
func TestExecuteRejectsTamperedRepairPlans(t *testing.T) {
	tests := []struct {
		name   string
		action FixAction
		tamper func(p *FixPlan)
	}{
		{"shell in the login user", FixFixAuthorizedKeys, func(p *FixPlan) { p.LoginUser = "root'; reboot; '" }},
		{"unknown OS", FixRestartLoginService, func(p *FixPlan) { p.OS = "solaris" }},
		{"no port", FixOpenGuestFirewall, func(p *FixPlan) { p.Port = 0 }},
		{"a security group", FixOpenGuestFirewall, func(p *FixPlan) { p.GroupID = "sg-12345678" }},
		{"a mechanism on an open", FixOpenGuestFirewall, func(p *FixPlan) { p.Mechanism = "iptables" }},
		{"an undo on a restart", FixRestartLoginService, func(p *FixPlan) { p.UndoOf = "fix0" }},
		{"a Linux repair on Windows", FixFixAuthorizedKeys, func(p *FixPlan) { p.OS, p.LoginUser = OSWindows, "" }},
		{"a guest field on a cloud fix", FixRestartInstance, func(p *FixPlan) { p.LoginUser = "root" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFixCloud()
			p := mustPlan(t, c, "fix1", tc.action, "")
			tc.tamper(&p)
			out, err := newTestFixer(c, FixerOptions{}).Execute(context.Background(), p)
			if err == nil || out.Result != "" || len(c.runs) != 0 || c.mutations() != 0 {
				t.Fatalf("Execute = %+v, %v after %v; want an error before any command", out, err, c.runs)
			}
		})
	}
}

// TestExecuteRepair maps what the repair script reports to the outcome:
// changed succeeds, unchanged and refused change nothing, failed fails, and
// no result at all is an error, never a success.
func TestExecuteRepair(t *testing.T) {
	tests := []struct {
		name    string
		output  string
		status  string // the TAT task's status; "" SUCCESS
		result  FixStatus
		summary string
		undo    string
	}{
		{"changed", "cvmlogin.repair_undo=ufw\ncvmlogin.repair_result=changed\ncvmlogin.repair_detail=ufw now allows 22/tcp\n", "",
			FixSucceeded, "In the guest of ins-abc12345: ufw now allows 22/tcp.", "ufw"},
		{"unchanged", "cvmlogin.repair_result=unchanged\ncvmlogin.repair_detail=firewalld already allows 22/tcp\n", "",
			FixNotApplicable, "Nothing to change in the guest of ins-abc12345: firewalld already allows 22/tcp.", ""},
		{"refused", "cvmlogin.repair_result=refused\ncvmlogin.repair_detail=no firewalld, ufw or iptables found\n", "",
			FixNotApplicable, "Not applied in the guest of ins-abc12345, nothing changed", ""},
		{"failed", "cvmlogin.repair_result=failed\ncvmlogin.repair_detail=ufw could not allow 22/tcp\n", "FAILED",
			FixFailed, "The repair failed in the guest of ins-abc12345: ufw could not allow 22/tcp.", ""},
		{"timed out", "", "TIMEOUT", FixFailed, "ended TIMEOUT", ""},
		{"no result line", "cvmlogin.repair_undo=ufw\n", "", "", "Could not tell whether open_guest_firewall on ins-abc12345 took effect", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFixCloud()
			c.outputs, c.taskStatus = map[string]string{"cvmlogin-open_guest_firewall": tc.output}, tc.status
			var noted []string
			ctx := WithChangeNote(context.Background(), func(id string) { noted = append(noted, id) })
			out, err := newTestFixer(c, FixerOptions{}).Execute(ctx, mustPlan(t, c, "fix1", FixOpenGuestFirewall, ""))
			if (err != nil) != (tc.result == "") || out.Result != tc.result || !strings.Contains(out.Summary, tc.summary) || out.Undo != tc.undo {
				t.Fatalf("Execute = %+v, %v; want %q %q undo %q", out, err, tc.result, tc.summary, tc.undo)
			}
			if want := []string{"inv-cvmlogin-open_guest_firewall"}; !slices.Equal(noted, want) || !slices.Equal(out.RequestIDs, want) {
				t.Errorf("noted %v, request IDs %v; want the invocation %v", noted, out.RequestIDs, want)
			}
		})
	}
}

func TestRepairNeedsARunningInstance(t *testing.T) {
	c := newFixCloud()
	c.inst.State = "STOPPED"
	out, err := newTestFixer(c, FixerOptions{}).Execute(context.Background(), mustPlan(t, c, "fix1", FixRestartLoginService, ""))
	if err != nil || out.Result != FixNotApplicable || len(c.runs) != 0 {
		t.Fatalf("Execute = %+v, %v after %v; want not_applicable without running anything", out, err, c.runs)
	}
}

// TestReconcileRepair: an interrupted repair is settled from its invocation;
// one whose invocation is unknown or gone failed, never succeeded.
func TestReconcileRepair(t *testing.T) {
	changed := "cvmlogin.repair_result=changed\ncvmlogin.repair_detail=restarted sshd.service (state: active)\n"
	tests := []struct {
		name    string
		noted   string
		result  FixStatus
		summary string
	}{
		{"finished", "inv-cvmlogin-restart_login_service", FixSucceeded, "restarted sshd.service"},
		{"never noted", "", FixFailed, "cvmlogin stopped while the repair restart_login_service ran"},
		{"invocation gone", "inv-gone", FixFailed, "re-diagnose"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFixCloud()
			c.outputs = map[string]string{"cvmlogin-restart_login_service": changed}
			out, err := newTestFixer(c, FixerOptions{}).Reconcile(context.Background(), mustPlan(t, c, "fix1", FixRestartLoginService, ""), tc.noted)
			if err != nil || out.Result != tc.result || !strings.Contains(out.Summary, tc.summary) || len(c.runs) != 0 {
				t.Fatalf("Reconcile = %+v, %v after %v; want %s %q and no command run", out, err, c.runs, tc.result, tc.summary)
			}
		})
	}
}

// TestScriptsNameThemselves: every script cvmlogin runs in a guest carries
// the "# cvmlogin-script: <name>" line the simulator answers by.
func TestScriptsNameThemselves(t *testing.T) {
	for action, files := range repairFiles {
		for os := range files {
			cmd, err := RepairCommand(action, os, "ins-abc12345", RepairParams{Port: 22, FixID: "fix1", Mechanism: "iptables"})
			if err != nil || strings.Count(cmd.Script, "\n# cvmlogin-script: ") != 1 || !strings.Contains(cmd.Script, "\n# cvmlogin-script: "+string(action)+"\n") {
				t.Errorf("%s on %s (%v) does not name itself once", action, os, err)
			}
		}
	}
	for _, os := range []string{OSLinux, OSWindows} {
		cmd, err := LoginDetailsCommand(os, "ins-abc12345", 22, "")
		if err != nil || !strings.Contains(cmd.Script, "\n# cvmlogin-script: login-details\n") {
			t.Errorf("the login-details script for %s (%v) does not name itself", os, err)
		}
	}
}
