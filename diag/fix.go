package diag

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cvmlogin/cvmlogin/internal/defaults"
)

// FixStatus is a word of a fix's lifecycle: the status of a fix request as
// conversations stores it, the result of executing a plan (FixOutcome), and
// the outcome label internal/metrics counts. It is defined here once.
//
// A request moves along
//
//	requested → approved | rejected | expired
//	approved  → running
//	running   → succeeded | failed
type FixStatus string

// The fix statuses.
const (
	FixRequested FixStatus = "requested" // asked for, waiting for an approver
	FixApproved  FixStatus = "approved"  // approved, queued to run
	FixRejected  FixStatus = "rejected"  // an approver (or the requester) said no
	FixExpired   FixStatus = "expired"   // nobody decided within the approval window
	FixRunning   FixStatus = "running"   // being executed, or watched, by the replica holding its lease
	FixSucceeded FixStatus = "succeeded" // the change was made and, for instance actions, finished
	FixFailed    FixStatus = "failed"    // the cloud reported the operation failed, or it did not finish in time
	// FixNotApplicable is a result only: nothing was changed because
	// re-validation found the plan no longer applies or has nothing to do.
	// Its request ends succeeded: nothing went wrong.
	FixNotApplicable FixStatus = "not_applicable"
	// FixRefused is a metrics outcome only: someone not allowed to decide
	// pressed approve or reject.
	FixRefused FixStatus = "refused"
)

// FixStatuses are every fix status, in lifecycle order.
var FixStatuses = []FixStatus{FixRequested, FixApproved, FixRejected, FixRefused, FixExpired, FixRunning, FixSucceeded, FixFailed, FixNotApplicable}

// fixDescriptionPrefix starts the PolicyDescription of every security-group
// rule a fix adds; the fix ID follows it. undo_open_ports deletes by it.
const fixDescriptionPrefix = "cvmlogin:"

// openAllPortsTCP are the inbound TCP ports of Tencent Cloud's Port
// Verification "Open all ports" (一键放通), which also opens ICMP.
var openAllPortsTCP = []int{20, 21, 22, 80, 443, 3389}

// anywhereIPv4 is the source of every rule a fix adds.
const anywhereIPv4 = "0.0.0.0/0"

// fixIDPattern is what fix IDs look like: URL-safe, short enough that
// "cvmlogin:"+ID fits a PolicyDescription (100 characters).
var fixIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// FixPlan is exactly what one fix will change. PlanFix derives it from a
// diagnosed instance; Describe says it in words for the approval prompt; a
// Fixer executes it after re-validating it against the cloud.
type FixPlan struct {
	// ID is the fix request's ID. The rules an open action adds are
	// described "cvmlogin:"+ID.
	ID         string    `json:"id"`
	Action     FixAction `json:"action"`
	InstanceID string    `json:"instance_id"`
	// InstanceName is the instance's name when planned, for people; it is
	// not re-validated.
	InstanceName string `json:"instance_name,omitempty"`
	Region       string `json:"region"`
	// PublicIP is, when the diagnosis found the instance by its public IP,
	// that address: re-validation then requires that it still belongs to
	// InstanceID, so that a fix approved for "the machine at this address"
	// is not applied to a machine the address has left.
	PublicIP string `json:"public_ip,omitempty"`
	// GroupID is the security group the open and undo actions change: the
	// instance's first (highest-priority) group. To undo a fix whose group
	// is no longer the instance's first, set it to that fix's GroupID.
	GroupID string `json:"group_id,omitempty"`
	// Port is the login port diagnosed, for the open actions: both open it.
	Port int `json:"port,omitempty"`
	// UndoOf is, for undo_open_ports, the ID of the fix whose rules to delete.
	UndoOf string `json:"undo_of,omitempty"`
	// Rules are, for the open actions, the inbound rules to add at the top
	// of GroupID, in order.
	Rules []SecurityGroupPolicy `json:"rules,omitempty"`
	// OS is, for guest repairs, the instance's OS (linux or windows): it
	// picks the repair script.
	OS string `json:"os,omitempty"`
	// LoginUser is, for guest repairs on Linux, the user whose key files
	// fix_authorized_keys repairs.
	LoginUser string `json:"login_user,omitempty"`
	// Mechanism is, for undo_guest_firewall, the guest firewall the undone
	// open_guest_firewall changed (FixOutcome.Undo): firewalld, ufw,
	// iptables or windows.
	Mechanism string `json:"mechanism,omitempty"`
}

// PlanFix plans action on the diagnosed instance inst in region. id is the
// fix request's ID; undoOf, for undo_open_ports only, the ID of the fix to
// undo. It fails if the action is unknown, an ID is malformed, the instance
// has no security group (open and undo actions) or no valid login port
// (open_login_port).
func PlanFix(id string, action FixAction, inst InstanceSummary, region string, undoOf string) (FixPlan, error) {
	if IsGuestRepair(action) {
		return planRepair(id, action, inst, region)
	}
	p := FixPlan{ID: id, Action: action, InstanceID: inst.ID, InstanceName: inst.Name, Region: region}
	if p.changesGroup() {
		if len(inst.SecurityGroups) == 0 {
			return FixPlan{}, fmt.Errorf("planning %s on %s: the instance has no security group", action, inst.ID)
		}
		p.GroupID = inst.SecurityGroups[0]
	}
	switch action {
	case FixOpenLoginPort, FixOpenAllPorts:
		p.Port = inst.LoginPort
	case FixUndoOpenPorts:
		p.UndoOf = undoOf
	}
	p.Rules = p.wantRules()
	if err := p.validate(); err != nil {
		return FixPlan{}, fmt.Errorf("planning %s on %s: %w", action, inst.ID, err)
	}
	return p, nil
}

// OpenAllPortsTCP returns the TCP ports open_all_ports opens for an
// instance whose login port is loginPort (0: unknown): Tencent Cloud's
// "Open all ports" set, plus the login port when it is not among them.
func OpenAllPortsTCP(loginPort int) []int {
	if loginPort <= 0 || slices.Contains(openAllPortsTCP, loginPort) {
		return slices.Clone(openAllPortsTCP)
	}
	return append(slices.Clone(openAllPortsTCP), loginPort)
}

// PlanReportFix plans action on the instance report r diagnosed, as PlanFix
// does; when r's target was a public IP, the plan also requires that the
// address still belongs to the instance when it runs.
func PlanReportFix(id string, action FixAction, r *Report, undoOf string) (FixPlan, error) {
	if r == nil || r.Instance == nil {
		return FixPlan{}, fmt.Errorf("planning %s: the report has no instance", action)
	}
	p, err := PlanFix(id, action, *r.Instance, r.Region, undoOf)
	if err != nil {
		return p, err
	}
	if t, err := ParseTarget(r.Target); err == nil && t.Kind == TargetPublicIP {
		p.PublicIP = t.Raw
	}
	return p, nil
}

// loginPortFixes are the fixes a finding that TCP port is blocked offers:
// the open actions whose plan opens it, and no other, since a fix that
// leaves the finding failing must not be offered.
func loginPortFixes(port int) []FixAction {
	return slices.DeleteFunc([]FixAction{FixOpenLoginPort, FixOpenAllPorts}, func(a FixAction) bool { return !opensPort(a, port) })
}

// opensPort reports whether action's plan opens TCP port to everyone.
func opensPort(action FixAction, port int) bool {
	want := strconv.Itoa(port)
	return slices.ContainsFunc(FixPlan{Action: action, Port: port}.wantRules(), func(r SecurityGroupPolicy) bool {
		return r.Protocol == "TCP" && r.Port == want
	})
}

// changesGroup reports whether the plan changes a security group.
func (p FixPlan) changesGroup() bool {
	return p.Action == FixOpenAllPorts || p.Action == FixOpenLoginPort || p.Action == FixUndoOpenPorts
}

// wantRules returns the rules the plan's action adds, nil for actions that
// add none.
func (p FixPlan) wantRules() []SecurityGroupPolicy {
	var ports []int
	switch p.Action {
	case FixOpenAllPorts:
		ports = OpenAllPortsTCP(p.Port)
	case FixOpenLoginPort:
		ports = []int{p.Port}
	default:
		return nil
	}
	open := func(protocol, port string) SecurityGroupPolicy {
		return SecurityGroupPolicy{Protocol: protocol, Port: port, CidrBlock: anywhereIPv4, Action: "ACCEPT", Description: fixDescriptionPrefix + p.ID}
	}
	var rules []SecurityGroupPolicy
	for _, port := range ports {
		rules = append(rules, open("TCP", strconv.Itoa(port)))
	}
	if p.Action == FixOpenAllPorts {
		rules = append(rules, open("ICMP", ""))
	}
	return rules
}

// validate checks that the plan is one PlanFix could have made, so that a
// plan read back from storage cannot change more than its action means.
func (p FixPlan) validate() error {
	switch {
	case !slices.Contains(FixActions, p.Action):
		return fmt.Errorf("unknown fix action %q", p.Action)
	case !fixIDPattern.MatchString(p.ID):
		return fmt.Errorf("fix ID %q is not 1 to 64 letters, digits, '-' or '_'", p.ID)
	case !instanceIDPattern.MatchString(p.InstanceID):
		return fmt.Errorf("%q is not an instance ID", p.InstanceID)
	case p.Region == "":
		return errors.New("no region given")
	case p.changesGroup() && p.GroupID == "":
		return errors.New("no security group given")
	case p.Action == FixOpenLoginPort && (p.Port < 1 || p.Port > 65535),
		p.Action == FixOpenAllPorts && (p.Port < 0 || p.Port > 65535):
		return fmt.Errorf("login port %d is not a port number (1-65535)", p.Port)
	case p.PublicIP != "" && !validIPv4(p.PublicIP):
		return fmt.Errorf("%q is not an IPv4 address", p.PublicIP)
	case p.Action == FixUndoOpenPorts && !fixIDPattern.MatchString(p.UndoOf):
		return fmt.Errorf("the fix to undo, %q, is not a fix ID", p.UndoOf)
	case !slices.Equal(p.Rules, p.wantRules()):
		return fmt.Errorf("the plan's rules are not what %s adds", p.Action)
	case IsGuestRepair(p.Action):
		return p.validateRepair()
	case p.OS != "" || p.LoginUser != "" || p.Mechanism != "":
		return fmt.Errorf("%s takes no OS, login user or firewall mechanism", p.Action)
	}
	return nil
}

// Describe says in one sentence exactly what executing the plan changes,
// naming the instance (ID, name, region, and the address it was found by).
func (p FixPlan) Describe() string {
	inst := p.instance()
	switch p.Action {
	case FixOpenAllPorts, FixOpenLoginPort:
		return fmt.Sprintf("Add %s at the top of security group %s of %s: %s, described %s.",
			plural(len(p.Rules), "inbound rule"), p.GroupID, inst, ruleList(p.Rules), fixDescriptionPrefix+p.ID)
	case FixUndoOpenPorts:
		return fmt.Sprintf("Delete the inbound rules described %s from security group %s of %s.", fixDescriptionPrefix+p.UndoOf, p.GroupID, inst)
	case FixRestartInstance:
		return fmt.Sprintf("Reboot %s (soft shutdown first, hard if that fails); unsaved work in memory is lost.", inst)
	case FixStartInstance:
		return fmt.Sprintf("Start %s.", inst)
	}
	if what := p.repairDescription(); what != "" {
		return fmt.Sprintf("Run in the guest of %s: %s.", inst, what)
	}
	return fmt.Sprintf("Unknown fix action %q on %s: nothing will be done.", p.Action, inst)
}

// instance names the plan's instance: "ins-abc12345 (web-1) in
// ap-guangzhou, found by 203.0.113.7".
func (p FixPlan) instance() string {
	s := p.InstanceID
	if p.InstanceName != "" {
		s += " (" + p.InstanceName + ")"
	}
	s += " in " + p.Region
	if p.PublicIP != "" {
		s += ", found by " + p.PublicIP
	}
	return s
}

// FixOutcome is what executing a fix did.
type FixOutcome struct {
	// Result is FixSucceeded, FixFailed or FixNotApplicable; it is empty
	// when Execute returns an error.
	Result FixStatus `json:"result"`
	// Summary says what happened in one line for the incident thread. It is
	// set even when Execute returns an error.
	Summary string `json:"summary"`
	// RequestIDs are the Tencent Cloud RequestIds of the mutating calls
	// made, in order, including calls the cloud refused; for a guest
	// repair, the TAT invocation ID of its RunCommand.
	RequestIDs []string `json:"request_ids"`
	// Added are the rules added, with the PolicyIndex each was inserted at.
	Added []SecurityGroupPolicy `json:"added,omitempty"`
	// Deleted are the rules deleted, as they were before the deletion.
	Deleted []SecurityGroupPolicy `json:"deleted,omitempty"`
	// FinalState is the instance's InstanceState as last read, e.g.
	// RUNNING; empty when it was not read (undo_open_ports).
	FinalState string `json:"final_state,omitempty"`
	// Undo is, for a guest repair, what its undo needs: the firewall
	// mechanism an open_guest_firewall used (see PlanUndoGuestFirewall).
	Undo string `json:"undo,omitempty"`
	// Before is, for a guest repair, the state it changed, as the script
	// reported it, for the audit trail.
	Before string `json:"before,omitempty"`
}

// FixerOptions configure a Fixer. Zero fields take the defaults noted.
type FixerOptions struct {
	WatchTimeout       time.Duration    // how long to watch a reboot or start; default 5m
	PollInterval       time.Duration    // DescribeInstances interval while watching; default 3s
	MaxConflictRetries int              // re-reads after a security-group version conflict; default 3, negative none
	Now                func() time.Time // the clock of reported durations; nil means time.Now
	AllowedTags        TagAllowList     // not empty: a plan on an instance without one of them is refused (ErrNotAllowed)
	Logger             *slog.Logger     // one record per change and per execution; nil discards
}

// Fixer executes fix plans against a cloud. It is safe for concurrent use;
// it does not itself prevent two executions of one plan (the bot does), but
// re-validation makes a repeated execution not_applicable rather than a
// second change.
type Fixer struct {
	cloud Cloud
	fix   FixAPI
	opts  FixerOptions
}

// NewFixer returns a Fixer that reads through cloud and changes through fix.
func NewFixer(cloud Cloud, fix FixAPI, opts FixerOptions) *Fixer {
	opts.WatchTimeout = defaults.Duration(opts.WatchTimeout, 5*time.Minute)
	opts.PollInterval = defaults.Duration(opts.PollInterval, 3*time.Second)
	switch {
	case opts.MaxConflictRetries == 0:
		opts.MaxConflictRetries = 3
	case opts.MaxConflictRetries < 0:
		opts.MaxConflictRetries = 0
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Fixer{cloud: cloud, fix: fix, opts: opts}
}

// Execute re-validates plan against the cloud right before acting and, if it
// still applies, makes exactly the planned change: open actions add only the
// planned rules not already in effect, undo deletes only the rules described
// with the undone fix's ID, reboot and start are watched until
// LatestOperationState is SUCCESS or FAILED, or WatchTimeout passes. A
// mutating call is never repeated, except after a security-group version
// conflict (KindConflict), when the group is read again first. Undo acts on
// the plan's group even if the instance is gone: the rules it deletes
// outlive the instance, in a group that may be shared.
//
// The error is non-nil when the plan is invalid or a cloud call failed
// (wrapping the classified *APIError), or ctx ended: then Result is empty,
// and Summary says whether the change may have been made.
func (f *Fixer) Execute(ctx context.Context, plan FixPlan) (FixOutcome, error) {
	x := f.newExecution(plan)
	err := plan.validate()
	if err == nil {
		err = x.checkAllowed(ctx)
	}
	if err == nil {
		err = x.run(ctx)
	}
	if err != nil {
		if x.out.Summary == "" {
			x.out.Summary = x.errorSummary(err)
		}
		x.log.Warn("fix did not complete", "request_ids", x.out.RequestIDs, "may_have_changed", x.uncertain, "err", err)
		return x.out, fmt.Errorf("executing %s %s on %s: %w", plan.Action, plan.ID, plan.InstanceID, err)
	}
	x.log.Info("fix executed", "result", x.out.Result, "request_ids", x.out.RequestIDs, "final_state", x.out.FinalState)
	return x.out, nil
}

// Reconcile finds out, from the cloud alone, what an execution of plan that
// was interrupted (its process died mid-fix, or handed the fix over at
// shutdown) did, and finishes it. It never makes a change:
//   - open actions succeeded if rules described "cvmlogin:"+ID are in the
//     plan's group (Added lists them), and failed (nothing changed) if not;
//   - undo succeeded if no rule described "cvmlogin:"+UndoOf is left;
//   - reboot and start: if the instance's latest operation is that
//     operation, it is watched to its end as Execute does; otherwise the
//     call never took effect and the fix failed with nothing changed;
//   - guest repairs: the repair's TAT invocation is read (and waited for)
//     and its result recorded as Execute does; when it cannot be found the
//     fix failed, its effect unknown (never a success).
//
// requestID is the request ID of the reboot or start call (for a guest
// repair, the invocation ID), when the interrupted execution noted it
// (WithChangeNote): then only the operation it started counts. When it is
// empty, an operation of the same kind started by someone else just before
// is taken for the fix's.
func (f *Fixer) Reconcile(ctx context.Context, plan FixPlan, requestID string) (FixOutcome, error) {
	x := f.newExecution(plan)
	err := plan.validate()
	if err == nil {
		err = x.reconcile(ctx, requestID)
	}
	if err != nil {
		x.out.Summary = fmt.Sprintf("Could not tell what %s on %s did before cvmlogin stopped: %v. Re-diagnose to see the current state.", plan.Action, plan.InstanceID, err)
		return x.out, fmt.Errorf("reconciling %s %s on %s: %w", plan.Action, plan.ID, plan.InstanceID, err)
	}
	x.log.Info("fix reconciled", "result", x.out.Result, "final_state", x.out.FinalState)
	return x.out, nil
}

func (x *execution) reconcile(ctx context.Context, requestID string) error {
	switch x.plan.Action {
	case FixOpenAllPorts, FixOpenLoginPort, FixUndoOpenPorts:
		return x.reconcileGroup(ctx)
	case FixRestartInstance:
		return x.reconcileState(ctx, rebootOp, requestID)
	case FixStartInstance:
		return x.reconcileState(ctx, startOp, requestID)
	}
	if IsGuestRepair(x.plan.Action) {
		return x.reconcileRepair(ctx, requestID)
	}
	return fmt.Errorf("unknown fix action %q", x.plan.Action)
}

// reconcileGroup looks for the rules the fix adds (or, for undo, deletes)
// by their description.
func (x *execution) reconcileGroup(ctx context.Context) error {
	g, err := x.f.cloud.SecurityGroupPolicies(ctx, x.plan.Region, x.plan.GroupID)
	if err != nil && KindOf(err) != KindNotFound {
		return fmt.Errorf("reading security group %s: %w", x.plan.GroupID, err)
	}
	description := fixDescriptionPrefix + x.plan.ID
	if x.plan.Action == FixUndoOpenPorts {
		description = fixDescriptionPrefix + x.plan.UndoOf
	}
	var found []SecurityGroupPolicy
	for _, p := range g.Ingress {
		if p.Description == description {
			found = append(found, p)
		}
	}
	switch {
	case x.plan.Action == FixUndoOpenPorts && len(found) == 0:
		x.finish(FixSucceeded, "No inbound rule described %s is left in %s.", description, x.plan.GroupID)
	case x.plan.Action == FixUndoOpenPorts:
		x.finish(FixFailed, "Not deleted: %s still has %s described %s: %s. Press Close opened ports again.", x.plan.GroupID, plural(len(found), "inbound rule"), description, ruleList(found))
	case len(found) == 0:
		x.finish(FixFailed, "Not applied: cvmlogin stopped before adding the rules; %s has no rule described %s and nothing was changed. Request the fix again.", x.plan.GroupID, description)
	default:
		x.out.Added = found
		x.finish(FixSucceeded, "Added %s at the top of %s: %s.", plural(len(found), "inbound rule"), x.plan.GroupID, ruleList(found))
	}
	return nil
}

// reconcileState finds op, started by the call requestID ("" if unknown),
// by the instance's latest operation and watches it to its end.
func (x *execution) reconcileState(ctx context.Context, op instanceOp, requestID string) error {
	inst, found, err := x.readInstance(ctx)
	switch {
	case err != nil:
		return err
	case !found:
		x.finish(FixFailed, "The instance no longer exists (%s in %s).", x.plan.InstanceID, x.plan.Region)
		return nil
	case inst.LatestOperation != op.operation && requestID == "":
		x.finish(FixFailed, "Not applied: cvmlogin stopped before the %s of %s was started, so nothing was changed (its latest operation is %s). Request the fix again.",
			op.noun, x.plan.InstanceID, orDash(inst.LatestOperation))
		return nil
	case inst.LatestOperation != op.operation || !sameRequest(inst.LatestOperationRequestID, requestID):
		x.finish(FixFailed, "The %s of %s was started (request %s), but its outcome cannot be read: the instance's latest operation is now %s (request %s). Check the console.",
			op.noun, x.plan.InstanceID, requestID, orDash(inst.LatestOperation), orDash(inst.LatestOperationRequestID))
		return nil
	case inst.LatestOperationState == "OPERATING":
		return x.watch(ctx, op, requestID, time.Time{}) // when it started is unknown
	}
	x.settle(op, inst, "")
	return nil
}

// sameRequest reports whether the request IDs a and b may be the same
// request: equal, or one unknown.
func sameRequest(a, b string) bool { return a == "" || b == "" || a == b }

// newExecution starts a run of plan.
func (f *Fixer) newExecution(plan FixPlan) *execution {
	return &execution{f: f, plan: plan, out: FixOutcome{RequestIDs: []string{}},
		log: f.opts.Logger.With("fix_id", plan.ID, "action", string(plan.Action), "instance_id", plan.InstanceID, "group_id", plan.GroupID, "region", plan.Region)}
}

// execution is one run of a plan and what it has done so far.
type execution struct {
	f    *Fixer
	plan FixPlan
	log  *slog.Logger
	out  FixOutcome
	// uncertain is set when a mutating call failed in a way that leaves it
	// unknown whether it took effect.
	uncertain bool
}

func (x *execution) run(ctx context.Context) error {
	switch x.plan.Action {
	case FixOpenAllPorts, FixOpenLoginPort:
		return x.open(ctx)
	case FixUndoOpenPorts:
		return x.changeGroup(ctx, x.deleteOwnRules)
	case FixRestartInstance:
		return x.changeState(ctx, rebootOp)
	case FixStartInstance:
		return x.changeState(ctx, startOp)
	}
	if IsGuestRepair(x.plan.Action) {
		return x.repair(ctx)
	}
	return fmt.Errorf("unknown fix action %q", x.plan.Action)
}

func (x *execution) finish(result FixStatus, format string, args ...any) {
	x.out.Result, x.out.Summary = result, fmt.Sprintf(format, args...)
}

func (x *execution) errorSummary(err error) string {
	if x.uncertain {
		return fmt.Sprintf("Could not tell whether %s on %s took effect: %v. Re-diagnose to see the current state.", x.plan.Action, x.plan.InstanceID, err)
	}
	return fmt.Sprintf("Not applied: %s on %s failed: %v", x.plan.Action, x.plan.InstanceID, err)
}

// mutate makes one mutating call and records its request ID, whether the
// cloud accepted the call or refused it.
func (x *execution) mutate(ctx context.Context, what string, call func(ctx context.Context) (string, error)) (string, error) {
	requestID, err := call(ctx)
	var apiErr *APIError
	if err != nil && errors.As(err, &apiErr) {
		requestID = apiErr.RequestID
	}
	if requestID != "" {
		x.out.RequestIDs = append(x.out.RequestIDs, requestID)
	}
	if err != nil {
		x.uncertain = x.uncertain || mayHaveApplied(err)
		return "", fmt.Errorf("%s: %w", what, err)
	}
	x.log.Info("fix change made", "change", what, "request_id", requestID)
	if note, ok := ctx.Value(changeNoteKey{}).(func(string)); ok {
		note(requestID)
	}
	return requestID, nil
}

type changeNoteKey struct{}

// WithChangeNote returns a context under which Execute calls note with the
// request ID of each mutating call the cloud accepted, as soon as it did:
// what Reconcile needs to tell that change from another one if the process
// dies before Execute returns.
func WithChangeNote(ctx context.Context, note func(requestID string)) context.Context {
	return context.WithValue(ctx, changeNoteKey{}, note)
}

// mayHaveApplied reports whether a failed mutating call may still have taken
// effect: its answer was lost, or the provider failed internally.
func mayHaveApplied(err error) bool {
	switch KindOf(err) {
	case KindUnavailable, "":
		return true
	}
	return false
}

// readInstance re-reads the plan's instance and records its state as the
// outcome's FinalState. found is false when it no longer exists.
func (x *execution) readInstance(ctx context.Context) (inst Instance, found bool, err error) {
	insts, err := x.f.cloud.FindInstances(ctx, x.plan.Region, InstanceQuery{ID: x.plan.InstanceID})
	if err != nil && KindOf(err) != KindNotFound {
		return Instance{}, false, fmt.Errorf("reading instance %s: %w", x.plan.InstanceID, err)
	}
	for _, in := range insts {
		if in.ID == x.plan.InstanceID {
			x.out.FinalState = in.State
			return in, true, nil
		}
	}
	return Instance{}, false, nil
}

// currentInstance re-reads the instance before acting; when it is gone, or
// the public IP it was planned for has moved to another instance, it records
// the outcome and returns found false.
func (x *execution) currentInstance(ctx context.Context) (Instance, bool, error) {
	inst, found, err := x.readInstance(ctx)
	switch {
	case err != nil:
		return inst, false, err
	case !found:
		x.finish(FixNotApplicable, "Not applied: the instance no longer exists (%s in %s).", x.plan.InstanceID, x.plan.Region)
		return inst, false, nil
	case x.plan.PublicIP == "":
		return inst, true, nil
	}
	holder, err := x.addressHolder(ctx)
	if err != nil {
		return inst, false, err
	}
	if holder != x.plan.InstanceID {
		x.finish(FixNotApplicable, "Not applied: %s now belongs to %s, not to %s, which this fix was approved for. Nothing was changed; diagnose %s again and request the fix anew.",
			x.plan.PublicIP, cmp.Or(holder, "no instance"), x.plan.InstanceID, x.plan.PublicIP)
		return inst, false, nil
	}
	return inst, true, nil
}

// addressHolder returns the instance the plan's public IP belongs to now,
// "" when none.
func (x *execution) addressHolder(ctx context.Context) (string, error) {
	insts, err := x.f.cloud.FindInstances(ctx, x.plan.Region, InstanceQuery{PublicIP: x.plan.PublicIP})
	if err != nil && KindOf(err) != KindNotFound {
		return "", fmt.Errorf("looking up who has %s: %w", x.plan.PublicIP, err)
	}
	if len(insts) == 0 {
		return "", nil
	}
	return insts[0].ID, nil
}

// open adds the planned rules that are not already in effect.
func (x *execution) open(ctx context.Context) error {
	inst, found, err := x.currentInstance(ctx)
	if err != nil || !found {
		return err
	}
	if !slices.Contains(inst.SecurityGroupIDs, x.plan.GroupID) {
		x.finish(FixNotApplicable, "Not applied: %s is no longer attached to %s (its groups: %s). Nothing was changed; diagnose again and request the fix anew.",
			x.plan.GroupID, x.plan.InstanceID, orDash(strings.Join(inst.SecurityGroupIDs, ", ")))
		return nil
	}
	return x.changeGroup(ctx, x.addMissingRules)
}

// changeGroup reads the plan's group and applies one version-guarded change
// to it. When a concurrent edit wins (KindConflict) it reads the group again
// and retries, at most MaxConflictRetries times.
func (x *execution) changeGroup(ctx context.Context, change func(context.Context, SecurityGroupPolicies) error) error {
	for attempt := 0; ; attempt++ {
		g, err := x.f.cloud.SecurityGroupPolicies(ctx, x.plan.Region, x.plan.GroupID)
		switch {
		case KindOf(err) == KindNotFound:
			x.finish(FixNotApplicable, "Not applied: security group %s no longer exists.", x.plan.GroupID)
			return nil
		case err != nil:
			return fmt.Errorf("reading security group %s: %w", x.plan.GroupID, err)
		}
		g.GroupID = x.plan.GroupID
		slices.SortStableFunc(g.Ingress, func(a, b SecurityGroupPolicy) int { return a.Index - b.Index })
		err = change(ctx, g)
		if KindOf(err) != KindConflict || attempt >= x.f.opts.MaxConflictRetries {
			return err
		}
		x.log.Info("security group changed concurrently; reading it again", "group_id", x.plan.GroupID, "attempt", attempt+1, "err", err)
	}
}

// addMissingRules inserts the planned rules g lacks at the top of g.
func (x *execution) addMissingRules(ctx context.Context, g SecurityGroupPolicies) error {
	var missing, present []SecurityGroupPolicy
	for _, want := range x.plan.Rules {
		if alreadyOpen(g, want) {
			present = append(present, want)
		} else {
			missing = append(missing, want)
		}
	}
	if len(missing) == 0 {
		x.finish(FixNotApplicable, "Not applied: rules already present in %s: %s.", g.GroupID, ruleList(present))
		return nil
	}
	what := fmt.Sprintf("adding %s to %s", plural(len(missing), "inbound rule"), g.GroupID)
	_, err := x.mutate(ctx, what, func(ctx context.Context) (string, error) {
		return x.f.fix.CreateIngressPolicies(ctx, x.plan.Region, g.GroupID, g.Version, missing)
	})
	if err != nil {
		return err
	}
	for i, r := range missing {
		r.Index = i // inserted at the top, in order
		x.out.Added = append(x.out.Added, r)
	}
	var note string
	if len(present) > 0 {
		note = fmt.Sprintf(" (already open: %s)", ruleList(present))
	}
	x.finish(FixSucceeded, "Added %s at the top of %s: %s%s.", plural(len(missing), "inbound rule"), g.GroupID, ruleList(missing), note)
	return nil
}

// alreadyOpen reports whether want is already in effect in g: the first
// rule of g that matches want's traffic from anywhere is an ACCEPT rule from
// 0.0.0.0/0 with want's protocol (in any case) and port, and no earlier rule
// that cannot be evaluated could decide otherwise. An identical rule below a
// DROP that shadows it does not count: adding want at the top is what lets
// the traffic in. g.Ingress must be sorted by Index.
func alreadyOpen(g SecurityGroupPolicies, want SecurityGroupPolicy) bool {
	port, _ := strconv.Atoi(want.Port)
	d := EvaluateIngress([]SecurityGroupPolicies{g}, Traffic{Protocol: want.Protocol, Port: port})
	return d.Verdict == VerdictAccept && d.Decider != nil && sameOpening(d.Decider.Rule, want)
}

// sameOpening reports whether rule p opens what want opens: same protocol,
// same port (for protocols with ports), 0.0.0.0/0, ACCEPT.
func sameOpening(p, want SecurityGroupPolicy) bool {
	return p.ServiceTemplate == "" && isAccept(p) &&
		strings.EqualFold(strings.TrimSpace(p.Protocol), want.Protocol) &&
		(want.Port == "" || strings.TrimSpace(p.Port) == want.Port) &&
		strings.TrimSpace(p.CidrBlock) == anywhereIPv4
}

// deleteOwnRules deletes the inbound rules of g described with the undone
// fix's ID, and nothing else.
func (x *execution) deleteOwnRules(ctx context.Context, g SecurityGroupPolicies) error {
	description := fixDescriptionPrefix + x.plan.UndoOf
	var doomed []SecurityGroupPolicy
	var indexes []int
	for _, p := range g.Ingress {
		if p.Description == description {
			doomed = append(doomed, p)
			indexes = append(indexes, p.Index)
		}
	}
	if len(doomed) == 0 {
		x.finish(FixNotApplicable, "Not applied: nothing to undo: %s has no inbound rule described %s.", g.GroupID, description)
		return nil
	}
	what := fmt.Sprintf("deleting %s described %s from %s", plural(len(doomed), "inbound rule"), description, g.GroupID)
	if _, err := x.mutate(ctx, what, func(ctx context.Context) (string, error) {
		return x.f.fix.DeleteIngressPolicies(ctx, x.plan.Region, g.GroupID, g.Version, indexes)
	}); err != nil {
		return err
	}
	x.out.Deleted = doomed
	x.finish(FixSucceeded, "Deleted %s described %s from %s: %s.", plural(len(doomed), "inbound rule"), description, g.GroupID, ruleList(doomed))
	return nil
}

// instanceOp is a watched instance operation.
type instanceOp struct {
	operation string // its LatestOperation, e.g. RebootInstances
	from      string // the InstanceState it needs
	noun      string // "reboot"
	passive   string // "rebooted", as in "only a RUNNING instance can be rebooted"
	call      func(FixAPI, context.Context, string, string) (string, error)
}

var (
	rebootOp = instanceOp{operation: "RebootInstances", from: "RUNNING", noun: "reboot", passive: "rebooted", call: FixAPI.RebootInstance}
	startOp  = instanceOp{operation: "StartInstances", from: "STOPPED", noun: "start", passive: "started", call: FixAPI.StartInstance}
)

// changeState runs op on the instance if it is in op's from-state, then
// watches it.
func (x *execution) changeState(ctx context.Context, op instanceOp) error {
	inst, found, err := x.currentInstance(ctx)
	switch {
	case err != nil || !found:
		return err
	case inst.State == op.from:
	case inst.State == "RUNNING":
		x.finish(FixNotApplicable, "Not applied: %s is already running.", x.plan.InstanceID)
		return nil
	default:
		x.finish(FixNotApplicable, "Not applied: %s is %s; only a %s instance can be %s.", x.plan.InstanceID, inst.State, op.from, op.passive)
		return nil
	}
	started := x.f.opts.Now()
	requestID, err := x.mutate(ctx, op.noun+"ing "+x.plan.InstanceID, func(ctx context.Context) (string, error) {
		return op.call(x.f.fix, ctx, x.plan.Region, x.plan.InstanceID)
	})
	if err != nil {
		return err
	}
	return x.watch(ctx, op, requestID, started)
}

// watch polls the instance every PollInterval until op, started at started
// (zero: unknown) by the call requestID, has finished, or WatchTimeout
// passes. A failed poll is logged and the watch goes on.
func (x *execution) watch(ctx context.Context, op instanceOp, requestID string, started time.Time) error {
	wctx, cancel := context.WithTimeout(ctx, x.f.opts.WatchTimeout)
	defer cancel()
	ticker := time.NewTicker(x.f.opts.PollInterval)
	defer ticker.Stop()
	var lastErr error
	for {
		select {
		case <-wctx.Done():
			return x.watchEnded(ctx, op, requestID, lastErr)
		case <-ticker.C:
		}
		inst, found, err := x.readInstance(wctx)
		switch {
		case err != nil:
			if wctx.Err() == nil { // a poll cut short by the watch's end is no news
				lastErr = err
				x.log.Warn("watching the instance: poll failed", "request_id", requestID, "err", err)
			}
			continue
		case !found:
			lastErr = fmt.Errorf("instance %s not found", x.plan.InstanceID)
			continue
		case !operationFinished(inst, op.operation, requestID):
			continue
		}
		var after string
		if !started.IsZero() {
			after = fmt.Sprintf(" after %v", x.f.opts.Now().Sub(started).Round(time.Second))
		}
		x.settle(op, inst, after)
		return nil
	}
}

// settle records the end of op as inst shows it; after says how long it
// took (" after 3s"), or is empty when that is unknown.
func (x *execution) settle(op instanceOp, inst Instance, after string) {
	if inst.LatestOperationState == "FAILED" {
		x.finish(FixFailed, "The %s of %s failed%s: %s.", op.noun, x.plan.InstanceID, after, cmp.Or(inst.LatestOperationErrorMsg, "no error message given"))
		return
	}
	x.finish(FixSucceeded, "The %s of %s succeeded: %s%s.", op.noun, x.plan.InstanceID, inst.State, after)
}

// watchEnded records why the watch stopped before op finished: the watch
// timed out (a failed fix) or ctx ended (an error).
func (x *execution) watchEnded(ctx context.Context, op instanceOp, requestID string, lastErr error) error {
	if err := ctx.Err(); err != nil {
		x.out.Summary = fmt.Sprintf("The %s of %s was requested (request %s), but watching it stopped: %v. Check the console.", op.noun, x.plan.InstanceID, requestID, err)
		return fmt.Errorf("watching the %s of %s: %w", op.noun, x.plan.InstanceID, err)
	}
	var last string
	if lastErr != nil {
		last = fmt.Sprintf(" (last poll: %v)", lastErr)
	}
	x.finish(FixFailed, "The %s of %s did not finish within %v; check the console%s.", op.noun, x.plan.InstanceID, x.f.opts.WatchTimeout, last)
	return nil
}

// operationFinished reports whether inst's latest operation is operation,
// finished (SUCCESS or FAILED), and the one requestID started: when the
// cloud reports the operation's request ID, it must match, so that an
// earlier operation of the same kind is not mistaken for this one. An empty
// requestID (a reconciliation, which never saw the call's answer) accepts
// any.
func operationFinished(inst Instance, operation, requestID string) bool {
	return inst.LatestOperation == operation &&
		(inst.LatestOperationState == "SUCCESS" || inst.LatestOperationState == "FAILED") &&
		sameRequest(inst.LatestOperationRequestID, requestID)
}

// ruleList renders rules compactly, grouped by source in order of first
// appearance, TCP ports first: "TCP 20, 21, 22 and ICMP from 0.0.0.0/0".
func ruleList(rules []SecurityGroupPolicy) string {
	var sources []string
	tcpPorts := map[string][]string{}
	others := map[string][]string{}
	for _, r := range rules {
		src := ruleSource(r)
		if !slices.Contains(sources, src) {
			sources = append(sources, src)
		}
		proto := strings.ToUpper(strings.TrimSpace(r.Protocol))
		switch {
		case r.ServiceTemplate != "":
			others[src] = append(others[src], "service template "+r.ServiceTemplate)
		case proto == "TCP":
			tcpPorts[src] = append(tcpPorts[src], orAll(r.Port))
		case r.Port == "" || strings.EqualFold(r.Port, "ALL"):
			others[src] = append(others[src], proto)
		default:
			others[src] = append(others[src], proto+" "+r.Port)
		}
	}
	parts := make([]string, 0, len(sources))
	for _, src := range sources {
		var items []string
		if ports := tcpPorts[src]; len(ports) > 0 {
			items = append(items, "TCP "+strings.Join(ports, ", "))
		}
		items = append(items, others[src]...)
		parts = append(parts, joinAnd(items)+" from "+src)
	}
	return strings.Join(parts, "; ")
}

// joinAnd joins items as "a, b and c".
func joinAnd(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// validIPv4 reports whether s is an IPv4 address.
func validIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

// plural renders "1 inbound rule" or "7 inbound rules".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
