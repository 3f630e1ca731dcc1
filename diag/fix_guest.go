package diag

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// planRepair plans a guest repair on the diagnosed instance: its OS picks
// the script, its login port and login user are the script's inputs.
func planRepair(id string, action FixAction, inst InstanceSummary, region string) (FixPlan, error) {
	p := FixPlan{ID: id, Action: action, InstanceID: inst.ID, InstanceName: inst.Name, Region: region,
		OS: inst.OS, Port: inst.LoginPort}
	if inst.OS == OSLinux {
		p.LoginUser = inst.LoginUser
	}
	if action == FixUndoGuestFirewall {
		return FixPlan{}, fmt.Errorf("planning %s on %s: plan it from the fix that opened the port (PlanUndoGuestFirewall)", action, inst.ID)
	}
	if err := p.validate(); err != nil {
		return FixPlan{}, fmt.Errorf("planning %s on %s: %w", action, inst.ID, err)
	}
	return p, nil
}

// PlanUndoGuestFirewall plans the undo of the open_guest_firewall plan
// opened, whose execution reported mechanism (FixOutcome.Undo): it removes
// exactly the rule that fix added, on the same instance and port.
func PlanUndoGuestFirewall(id string, opened FixPlan, mechanism string) (FixPlan, error) {
	if opened.Action != FixOpenGuestFirewall {
		return FixPlan{}, fmt.Errorf("planning %s: fix %s is %s, not %s", FixUndoGuestFirewall, opened.ID, opened.Action, FixOpenGuestFirewall)
	}
	p := FixPlan{ID: id, Action: FixUndoGuestFirewall, InstanceID: opened.InstanceID, InstanceName: opened.InstanceName,
		Region: opened.Region, PublicIP: opened.PublicIP, OS: opened.OS, Port: opened.Port, LoginUser: opened.LoginUser,
		UndoOf: opened.ID, Mechanism: mechanism}
	if err := p.validate(); err != nil {
		return FixPlan{}, fmt.Errorf("planning %s on %s: %w", FixUndoGuestFirewall, p.InstanceID, err)
	}
	return p, nil
}

// windowsMechanism is the only firewall mechanism on Windows.
const windowsMechanism = "windows"

// validateRepair checks the fields of a guest repair plan: the script
// exists for the OS and accepts the inputs, the port is a port, only
// fix_authorized_keys needs a login user and only undo_guest_firewall an
// undone fix and a mechanism of the plan's OS.
func (p FixPlan) validateRepair() error {
	undo := p.Action == FixUndoGuestFirewall
	_, applies := repairFiles[p.Action][p.OS]
	switch {
	case p.OS != OSLinux && p.OS != OSWindows:
		return fmt.Errorf("OS %q is not linux or windows", p.OS)
	case !applies:
		return fmt.Errorf("%s does not apply to %s instances", p.Action, p.OS)
	case p.Port < 1 || p.Port > 65535:
		return fmt.Errorf("login port %d is not a port number (1-65535)", p.Port)
	case p.GroupID != "" || p.Rules != nil:
		return fmt.Errorf("%s changes no security group", p.Action)
	case p.OS == OSWindows && p.LoginUser != "":
		return errors.New("a Windows repair takes no login user")
	case p.Action == FixFixAuthorizedKeys && p.LoginUser == "":
		return errors.New("the login user is unknown: no key files to repair")
	case undo && !fixIDPattern.MatchString(p.UndoOf):
		return fmt.Errorf("the fix to undo, %q, is not a fix ID", p.UndoOf)
	case undo && (p.Mechanism == "" || (p.Mechanism == windowsMechanism) != (p.OS == OSWindows)):
		return fmt.Errorf("%q is not a firewall mechanism of %s", p.Mechanism, p.OS)
	case !undo && (p.UndoOf != "" || p.Mechanism != ""):
		return fmt.Errorf("%s undoes nothing", p.Action)
	}
	_, err := RepairCommand(p.Action, p.OS, p.InstanceID, p.repairParams())
	return err
}

// repairParams are the script inputs of the plan. The rules an
// open_guest_firewall adds are tagged with its ID; its undo finds them by
// that ID.
func (p FixPlan) repairParams() RepairParams {
	rp := RepairParams{Port: p.Port, User: p.LoginUser, FixID: p.ID, Mechanism: p.Mechanism}
	if p.Action == FixUndoGuestFirewall {
		rp.FixID = p.UndoOf
	}
	return rp
}

// repairDescription says exactly what the plan's repair script changes, ""
// for other actions.
func (p FixPlan) repairDescription() string {
	windows := p.OS == OSWindows
	tag := fixDescriptionPrefix + p.ID
	switch p.Action {
	case FixRestartLoginService:
		if windows {
			return "restart Remote Desktop Services (TermService) and the services that depend on it; open Remote Desktop sessions are disconnected"
		}
		return "restart sshd (ssh.socket where SSH is socket-activated); refused if `sshd -t` rejects the configuration, since sshd would not come back"
	case FixOpenGuestFirewall:
		if windows {
			return fmt.Sprintf("add the Windows Firewall rule %s allowing inbound TCP %d from anywhere", tag, p.Port)
		}
		return fmt.Sprintf("allow inbound TCP %d in the guest firewall: firewalld (runtime and permanent), else ufw, else iptables at the top of INPUT (until the next reboot); ufw and iptables rules are commented %s", p.Port, tag)
	case FixUndoGuestFirewall:
		return p.undoDescription()
	case FixFixAuthorizedKeys:
		return fmt.Sprintf("make ~%[1]s/.ssh mode 700 and ~%[1]s/.ssh/authorized_keys mode 600, both owned by %[1]s, and remove group and other write permission from %[1]s's home; no key is read or changed", p.LoginUser)
	case FixEnableRDP:
		return "set fDenyTSConnections to 0 (allow Remote Desktop connections) and enable the Remote Desktop firewall rules"
	}
	return ""
}

// undoDescription says what undo_guest_firewall removes, by mechanism.
func (p FixPlan) undoDescription() string {
	tag := fixDescriptionPrefix + p.UndoOf
	switch p.Mechanism {
	case "firewalld":
		return fmt.Sprintf("remove TCP %d from firewalld (runtime and permanent), as fix %s added it", p.Port, p.UndoOf)
	case "ufw":
		return fmt.Sprintf("delete ufw's allow rule for TCP %d, which fix %s added", p.Port, p.UndoOf)
	case "iptables":
		return fmt.Sprintf("delete the iptables INPUT rule commented %s (TCP %d)", tag, p.Port)
	}
	return fmt.Sprintf("remove the Windows Firewall rule %s (TCP %d)", tag, p.Port)
}

// repair runs the plan's repair script in the guest of a running instance
// and records what it reported.
func (x *execution) repair(ctx context.Context) error {
	inst, found, err := x.currentInstance(ctx)
	switch {
	case err != nil || !found:
		return err
	case inst.State != "RUNNING":
		x.finish(FixNotApplicable, "Not applied: %s is %s; a repair inside the guest needs a running instance.", x.plan.InstanceID, inst.State)
		return nil
	}
	cmd, err := RepairCommand(x.plan.Action, x.plan.OS, x.plan.InstanceID, x.plan.repairParams())
	if err != nil {
		return err
	}
	invocation, err := x.mutate(ctx, fmt.Sprintf("running %s in the guest of %s", x.plan.Action, x.plan.InstanceID), func(ctx context.Context) (string, error) {
		return x.f.cloud.RunCommand(ctx, x.plan.Region, cmd)
	})
	if err != nil {
		return err
	}
	x.uncertain = true // the script runs: from here on, an error leaves its effect unknown
	return x.awaitRepair(ctx, invocation)
}

// awaitRepair waits up to WatchTimeout for the repair's invocation to end
// and records its result.
func (x *execution) awaitRepair(ctx context.Context, invocation string) error {
	wctx, cancel := context.WithTimeout(ctx, x.f.opts.WatchTimeout)
	defer cancel()
	task, err := awaitTask(wctx, x.f.cloud, x.plan.Region, x.plan.InstanceID, invocation, x.f.opts.PollInterval)
	switch {
	case ctx.Err() != nil:
		x.out.Summary = fmt.Sprintf("The repair %s was started in the guest of %s (invocation %s), but watching it stopped. Re-diagnose to see the guest's state.",
			x.plan.Action, x.plan.InstanceID, invocation)
		return fmt.Errorf("watching the repair %s: %w", invocation, ctx.Err())
	case err != nil:
		x.finish(FixFailed, "The repair %s in the guest of %s (invocation %s) did not report within %v (%v). Re-diagnose to see the guest's state.",
			x.plan.Action, x.plan.InstanceID, invocation, x.f.opts.WatchTimeout, err)
		return nil
	}
	return x.settleRepair(invocation, task)
}

// settleRepair records what the repair script reported: changed is a
// success, unchanged or refused changed nothing, failed is a failure; no
// result at all is an error, never a success.
func (x *execution) settleRepair(invocation string, task InvocationTask) error {
	if task.Status != "SUCCESS" && task.Status != "FAILED" {
		x.finish(FixFailed, "The repair %s in the guest of %s ended %s (invocation %s): %s. Re-diagnose to see the guest's state.",
			x.plan.Action, x.plan.InstanceID, task.Status, invocation, orDash(task.ErrorInfo))
		return nil
	}
	o, err := ParseRepairOutcome(task.Output)
	if err != nil {
		return fmt.Errorf("invocation %s: %w", invocation, err)
	}
	x.out.Undo, x.out.Before = o.Undo, o.Before
	switch o.Result {
	case RepairChanged:
		x.finish(FixSucceeded, "In the guest of %s: %s%s.", x.plan.InstanceID, o.Detail, beforeNote(o.Before))
	case RepairFailed:
		x.finish(FixFailed, "The repair failed in the guest of %s: %s.", x.plan.InstanceID, o.Detail)
	case RepairRefused:
		x.finish(FixNotApplicable, "Not applied in the guest of %s, nothing changed: %s.", x.plan.InstanceID, o.Detail)
	default:
		x.finish(FixNotApplicable, "Nothing to change in the guest of %s: %s.", x.plan.InstanceID, o.Detail)
	}
	return nil
}

// beforeNote tells the state a repair changed, for the thread and the
// audit trail, which record the summary.
func beforeNote(before string) string {
	if before == "" {
		return ""
	}
	return " (before: " + strings.TrimSuffix(before, ";") + ")"
}

// reconcileRepair reads the repair's invocation, waits for it if it still
// runs, and records its result; a repair whose invocation is unknown or gone
// failed, with its effect unknown.
func (x *execution) reconcileRepair(ctx context.Context, invocation string) error {
	lost := func() error {
		x.finish(FixFailed, "cvmlogin stopped while the repair %s ran in the guest of %s, and its result cannot be read (invocation %s). It may or may not have changed the guest: re-diagnose to see its state.",
			x.plan.Action, x.plan.InstanceID, orDash(invocation))
		return nil
	}
	if invocation == "" {
		return lost()
	}
	tasks, err := x.f.cloud.InvocationTasks(ctx, x.plan.Region, invocation)
	switch {
	case KindOf(err) == KindNotFound:
		return lost()
	case err != nil:
		return fmt.Errorf("reading the repair's invocation %s: %w", invocation, err)
	}
	i := slices.IndexFunc(tasks, func(t InvocationTask) bool { return t.InstanceID == x.plan.InstanceID })
	switch {
	case i < 0:
		return lost()
	case guestTerminal(tasks[i].Status):
		return x.settleRepair(invocation, tasks[i])
	}
	return x.awaitRepair(ctx, invocation)
}
