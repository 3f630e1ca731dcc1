package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
)

// fixTitles name the fix actions in messages: their button labels, from
// the fix catalogue.
var fixTitles = func() map[diag.FixAction]string {
	titles := map[diag.FixAction]string{}
	for _, a := range diag.FixActions {
		titles[a] = a.Label(0)
	}
	return titles
}()

// requestFix turns a fix button press into a fix request: executed at once
// when an approver pressed it and four-eyes is off, otherwise posted in the
// thread for an approver.
func (b *Bot) requestFix(ctx context.Context, p press) {
	action := diag.FixAction(p.action)
	report, err := b.store.Report(ctx, p.conv.ID)
	if err != nil {
		b.reply(ctx, p, storeTrouble(err))
		return
	}
	if report.Instance == nil {
		b.reply(ctx, p, "There is no instance to fix in this report.")
		return
	}
	var undoOf string
	switch action {
	case diag.FixUndoOpenPorts:
		if undoOf = p.conv.OpenPortsFix; undoOf == "" {
			b.reply(ctx, p, "Nothing to undo: cvmlogin has not opened ports for this report.")
			return
		}
	case diag.FixUndoGuestFirewall:
		if undoOf = p.conv.GuestFirewallFix; undoOf == "" {
			b.reply(ctx, p, "Nothing to undo: cvmlogin has not opened the guest firewall for this report.")
			return
		}
	}
	id := conversations.NewID()
	plan, err := b.planFix(ctx, id, action, report, undoOf)
	if err != nil {
		b.reply(ctx, p, "This fix does not apply: "+escapeMrkdwn(err.Error()))
		return
	}
	fr := conversations.FixRequest{
		ID: id, Action: p.action, ConversationID: p.conv.ID, Channel: p.channel, InstanceID: plan.InstanceID,
		Region: plan.Region, SecurityGroupID: plan.GroupID, Port: plan.Port, Requester: p.user,
		CreatedAt: b.opts.Now(), ExpiresAt: b.opts.Now().Add(b.opts.ApprovalTTL),
		Params: map[string]string{"plan": plan.Describe(), "undo_of": undoOf}, Plan: &plan,
	}
	if !b.opts.FourEyes && b.isApprover(ctx, p.user) {
		if fr, ok := b.recordRequest(ctx, p, fr); ok {
			b.approve(ctx, p, fr, "")
		}
		return
	}
	// Recorded before it is shown, so that an approver pressing at once finds it.
	fr, ok := b.recordRequest(ctx, p, fr)
	if !ok {
		return
	}
	ts, err := b.postApprovalRequest(ctx, p, fr, plan)
	if err != nil {
		b.log.ErrorContext(ctx, "posting a fix request: it will expire unseen", "fix_id", fr.ID, "err", err)
		b.reply(ctx, p, storeTrouble(err))
		return
	}
	if err := b.store.SetFixParam(ctx, fr.ID, approvalMessageParam, ts); err != nil {
		b.log.WarnContext(ctx, "recording the approval request message: its expiry will not show there", "fix_id", fr.ID, "err", err)
	}
}

// approvalMessageParam is the fix request parameter holding the ts of its
// approval request message, so that its expiry can be shown there.
const approvalMessageParam = "approval_ts"

// recordRequest stores a new fix request, audits it and tells the presser
// when the store is unavailable.
func (b *Bot) recordRequest(ctx context.Context, p press, fr conversations.FixRequest) (conversations.FixRequest, bool) {
	fr, err := b.store.CreateFixRequest(ctx, fr, b.opts.ApprovalTTL)
	if err != nil {
		b.reply(ctx, p, storeTrouble(err))
		return fr, false
	}
	b.audit(ctx, fixEvent(fr, p.user, "fix.requested", ""))
	b.opts.Metrics.FixEvent(fr.Action, diag.FixRequested)
	_ = b.logEntry(ctx, p.conv.ID, "fix", fmt.Sprintf("<@%s> requested %s: %s", p.user, fixTitles[diag.FixAction(fr.Action)], fr.Params["plan"]))
	return fr, true
}

// planFix plans a fix on the report's instance. An undo targets the group
// its open changed, even if the instance's groups changed since; when the
// open's record is lost, the instance's first group, where an open adds its
// rules: the undo finds them by their cvmlogin:<fix id> description.
func (b *Bot) planFix(ctx context.Context, id string, action diag.FixAction, report *diag.Report, undoOf string) (diag.FixPlan, error) {
	if action == diag.FixUndoGuestFirewall {
		return b.planGuestFirewallUndo(ctx, id, undoOf)
	}
	plan, err := diag.PlanReportFix(id, action, report, undoOf)
	if err != nil || action != diag.FixUndoOpenPorts {
		return plan, err
	}
	opened, err := b.store.FixRequest(ctx, undoOf)
	switch {
	case errors.Is(err, conversations.ErrNotFound):
		b.log.WarnContext(ctx, "the fix to undo is not recorded; undoing in the instance's first group", "fix_id", id, "undo_of", undoOf, "group_id", plan.GroupID)
	case err != nil:
		return plan, fmt.Errorf("reading the fix that opened the ports: %w", err)
	case opened.Plan != nil:
		plan.GroupID = opened.Plan.GroupID
	case opened.SecurityGroupID != "":
		plan.GroupID = opened.SecurityGroupID
	}
	return plan, nil
}

// planGuestFirewallUndo plans removing exactly the rule the fix undoOf added
// to the guest's firewall, with the firewall its script reported using.
func (b *Bot) planGuestFirewallUndo(ctx context.Context, id, undoOf string) (diag.FixPlan, error) {
	opened, err := b.store.FixRequest(ctx, undoOf)
	switch {
	case err != nil:
		return diag.FixPlan{}, fmt.Errorf("reading the fix that opened the guest firewall: %w", err)
	case opened.Plan == nil || opened.Params[paramRepairUndo] == "":
		return diag.FixPlan{}, fmt.Errorf("fix %s did not record which firewall it changed", undoOf)
	}
	return diag.PlanUndoGuestFirewall(id, *opened.Plan, opened.Params[paramRepairUndo])
}

// paramRepairUndo is the fix request parameter holding what a guest
// repair's undo needs (FixOutcome.Undo: the firewall it changed).
const paramRepairUndo = "repair_undo"

// postApprovalRequest asks approvers, in the thread, to approve or reject
// fr, and returns the message's ts.
func (b *Bot) postApprovalRequest(ctx context.Context, p press, fr conversations.FixRequest, plan diag.FixPlan) (string, error) {
	refs := map[string]string{}
	for _, action := range []string{ActionApprove, ActionReject} {
		id, err := b.store.CreateRef(ctx, conversations.Ref{Action: action, ConversationID: fr.ConversationID, Channel: fr.Channel, FixRequestID: fr.ID})
		if err != nil {
			return "", err
		}
		refs[action] = id
	}
	text := fmt.Sprintf("<@%s> asks to *%s* on %s: %s\nApprovers: %s. The request expires at %s.",
		fr.Requester, fixTitles[diag.FixAction(fr.Action)], fr.InstanceID, escapeMrkdwn(plan.Describe()),
		approverList(b.opts.Approvers, b.opts.ApproverGroups), fr.ExpiresAt.UTC().Format("15:04 MST"))
	if b.opts.FourEyes {
		text += " Four-eyes rule: the requester cannot approve."
	}
	blocks := approvalBlocks(text, refs, plan.Describe())
	return b.post(ctx, "posting a fix request", fr.Channel, p.conv.ThreadTS, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
}

// decide handles approve and reject on a fix request's message.
func (b *Bot) decide(ctx context.Context, p press) {
	fr, err := b.store.FixRequest(ctx, p.ref.FixRequestID)
	switch {
	case errors.Is(err, conversations.ErrNotFound):
		b.reply(ctx, p, msgStaleButton)
		return
	case err != nil:
		b.reply(ctx, p, storeTrouble(err))
		return
	case fr.Channel != p.channel || fr.ConversationID != p.conv.ID:
		b.log.WarnContext(ctx, "refused a decision on a fix request of another conversation", "user", p.user, "fix_id", fr.ID)
		b.reply(ctx, p, msgStaleButton)
		return
	}
	if fr.Status == diag.FixExpired {
		b.reply(ctx, p, fmt.Sprintf("This request expired at %s and nothing was changed. Press the fix button on the report again to ask anew.", fr.ExpiresAt.UTC().Format("15:04 MST")))
		if expired, err := b.store.Transition(ctx, fr.ID, diag.FixRequested, diag.FixExpired, nil); err == nil {
			b.announceExpiry(ctx, expired) // unless the sweeper already did
		}
		return
	}
	if refusal := b.mayDecide(ctx, p, fr); refusal != "" {
		b.audit(ctx, fixEvent(fr, p.user, "fix.refused", refusal))
		b.opts.Metrics.FixEvent(fr.Action, diag.FixRefused)
		b.reply(ctx, p, refusal)
		return
	}
	if p.action == ActionReject {
		b.reject(ctx, p, fr)
		return
	}
	b.approve(ctx, p, fr, p.message)
}

// mayDecide returns why p.user may not decide fr, or "".
func (b *Bot) mayDecide(ctx context.Context, p press, fr conversations.FixRequest) string {
	who := approverList(b.opts.Approvers, b.opts.ApproverGroups)
	if p.action == ActionReject && p.user == fr.Requester {
		return "" // anyone may withdraw their own request
	}
	if b.opts.FourEyes && p.user == fr.Requester {
		return fmt.Sprintf("You asked for this fix, so someone else must approve it (four-eyes rule); nothing was changed. Ask %s.", who)
	}
	if !b.isApprover(ctx, p.user) {
		return fmt.Sprintf("Only approvers can %s fixes; nothing was changed. Ask %s.", p.action, who)
	}
	return ""
}

// approve moves fr to approved, exactly once, and queues its execution.
// approvalMessage is the approval request's ts, "" when there is none.
func (b *Bot) approve(ctx context.Context, p press, fr conversations.FixRequest, approvalMessage string) {
	p.message = approvalMessage
	fr, ok := b.decideOnce(ctx, p, fr, diag.FixApproved, ":white_check_mark: Approved by <@%s> at %s; applying it now.")
	if !ok {
		return
	}
	if approvalMessage == "" {
		b.postThread(ctx, "posting a fix approval", fr.Channel, p.conv.ThreadTS,
			fmt.Sprintf("<@%s> (an approver) pressed *%s*: %s Applying it now.", p.user, fixTitles[diag.FixAction(fr.Action)], escapeMrkdwn(fr.Params["plan"])))
	}
	if err := b.store.Enqueue(ctx, conversations.Job{Kind: conversations.JobFix, ConversationID: fr.ConversationID, FixRequestID: fr.ID, Requester: p.user}); err != nil {
		b.log.ErrorContext(ctx, "queueing an approved fix", "fix_id", fr.ID, "err", err)
		b.reply(ctx, p, storeTrouble(err))
	}
}

func (b *Bot) reject(ctx context.Context, p press, fr conversations.FixRequest) {
	b.decideOnce(ctx, p, fr, diag.FixRejected, ":no_entry_sign: Rejected by <@%s> at %s; nothing was changed.")
}

// decideOnce moves fr from requested to status (approved or rejected) by
// compare-and-set, records the decision, and replaces the approval buttons
// by decision (a format taking the user and the time). ok is false when
// someone else decided first or the request expired; the presser is told.
func (b *Bot) decideOnce(ctx context.Context, p press, fr conversations.FixRequest, status diag.FixStatus, decision string) (conversations.FixRequest, bool) {
	fr, err := b.store.Transition(ctx, fr.ID, diag.FixRequested, status, func(f *conversations.FixRequest) { f.Approver = p.user })
	if err != nil {
		b.refuseTransition(ctx, p, fr, err)
		return fr, false
	}
	b.audit(ctx, fixEvent(fr, p.user, "fix."+string(status), ""))
	b.opts.Metrics.FixEvent(fr.Action, status)
	_ = b.logEntry(ctx, fr.ConversationID, "fix", fmt.Sprintf("<@%s> %s %s", p.user, status, fixTitles[diag.FixAction(fr.Action)]))
	b.closeApproval(ctx, fr, p.message, fmt.Sprintf(decision, p.user, b.opts.Now().UTC().Format("15:04 MST")))
	return fr, true
}

// refuseTransition explains why a decision lost: someone else decided
// first, or the request expired.
func (b *Bot) refuseTransition(ctx context.Context, p press, fr conversations.FixRequest, err error) {
	var conflict *conversations.ConflictError
	switch {
	case errors.Is(err, conversations.ErrExpired):
		b.reply(ctx, p, "This request expired before it was approved; nothing was changed. Press the fix button again to ask anew.")
	case errors.As(err, &conflict):
		current, _ := b.store.FixRequest(ctx, fr.ID)
		by := ""
		if current.Approver != "" {
			by = fmt.Sprintf(" by <@%s>", current.Approver)
		}
		b.reply(ctx, p, alreadyPast(conflict.Current, by)+"; nothing more was done.")
	default:
		b.log.ErrorContext(ctx, "deciding a fix request", "fix_id", fr.ID, "err", err)
		b.reply(ctx, p, storeTrouble(err))
	}
}

// closeApproval replaces the approval request's buttons by the decision.
func (b *Bot) closeApproval(ctx context.Context, fr conversations.FixRequest, messageTS, decision string) {
	if messageTS == "" {
		return
	}
	text := fmt.Sprintf("<@%s> asked to *%s* on %s: %s", fr.Requester, fixTitles[diag.FixAction(fr.Action)], fr.InstanceID, escapeMrkdwn(fr.Params["plan"]))
	blocks := []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncateText(text, maxSectionText, "…"), false, false), nil, nil, slack.SectionBlockOptionBlockID("fix.request")),
		slack.NewContextBlock("fix.decision", slack.NewTextBlockObject(slack.MarkdownType, decision, false, false)),
	}
	if err := b.update(ctx, "closing a fix request", fr.Channel, messageTS, slack.MsgOptionText(text+"\n"+decision, false), slack.MsgOptionBlocks(blocks...)); err != nil {
		b.log.WarnContext(ctx, "closing a fix request message", "fix_id", fr.ID, "err", err)
	}
}

// announceExpiry records that fr expired undecided and says so on its
// approval request, in place of the buttons.
func (b *Bot) announceExpiry(ctx context.Context, fr conversations.FixRequest) {
	b.audit(ctx, fixEvent(fr, "cvmlogin", "fix.expired", "not approved within the approval window"))
	b.opts.Metrics.FixEvent(fr.Action, diag.FixExpired)
	_ = b.logEntry(ctx, fr.ConversationID, "fix", fmt.Sprintf("%s request by <@%s> expired undecided", fixTitles[diag.FixAction(fr.Action)], fr.Requester))
	b.closeApproval(ctx, fr, fr.Params[approvalMessageParam], fmt.Sprintf(
		":hourglass: Expired at %s without a decision; nothing was changed. Press the fix button on the report to ask again.", fr.ExpiresAt.UTC().Format("15:04 MST")))
}

// sweepFixes, every interval until ctx is done, expires undecided fix
// requests as their approval windows end and reconciles the running fixes
// whose replica died or handed them over; then it waits for the
// reconciliations in hand. Every replica sweeps; each request is announced
// once, each outcome recorded once.
func (b *Bot) sweepFixes(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var reconciling sync.WaitGroup
	defer reconciling.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		b.reconcileStranded(ctx, &reconciling)
		expired, err := b.store.ExpireDue(ctx)
		if err != nil && ctx.Err() == nil {
			b.log.WarnContext(ctx, "expiring fix requests", "err", err)
		}
		for _, fr := range expired {
			b.announceExpiry(ctx, fr)
		}
	}
}

// approvalBlocks is the approval request: what will change, and the approve
// (with a confirm dialog) and reject buttons.
func approvalBlocks(text string, refs map[string]string, plan string) []slack.Block {
	approve := slack.NewButtonBlockElement(ActionApprove, refs[ActionApprove], slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false))
	approve.Style = slack.StylePrimary
	approve.Confirm = slack.NewConfirmationBlockObject(
		slack.NewTextBlockObject(slack.PlainTextType, "Apply this fix?", false, false),
		slack.NewTextBlockObject(slack.PlainTextType, truncateText(plan, 300, "…"), false, false),
		slack.NewTextBlockObject(slack.PlainTextType, "Approve and apply", false, false),
		slack.NewTextBlockObject(slack.PlainTextType, "Cancel", false, false))
	reject := slack.NewButtonBlockElement(ActionReject, refs[ActionReject], slack.NewTextBlockObject(slack.PlainTextType, "Reject", false, false))
	return []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncateText(text, maxSectionText, "…"), false, false), nil, nil, slack.SectionBlockOptionBlockID("fix.request")),
		slack.NewActionBlock("fix.actions", approve, reject),
	}
}

func fixEvent(fr conversations.FixRequest, actor, action, result string) conversations.Event {
	return conversations.Event{Actor: actor, Action: action, InstanceID: fr.InstanceID, Region: fr.Region, Channel: fr.Channel, FixRequestID: fr.ID,
		Params: auditParams(fr), Result: result}
}

// auditParams are the fix request's parameters worth an audit line: a guest
// repair changes no security group, so it names none.
func auditParams(fr conversations.FixRequest) map[string]string {
	params := map[string]string{"fix": fr.Action, "plan": fr.Params["plan"]}
	if fr.SecurityGroupID != "" {
		params["security_group"] = fr.SecurityGroupID
	}
	return params
}

// fixTimeout bounds one fix, including watching a reboot.
const fixTimeout = 10 * time.Minute

// runFix executes an approved fix exactly once, exactly as approved: the
// plan stored with the request when it was asked for, which the approval
// message showed. The approved → running transition is a compare-and-set,
// so a redelivered job, a second replica or a click storm cannot run it
// twice; the replica running it holds its lease, so that if it dies another
// replica reconciles the fix (reconcileStranded).
func (b *Bot) runFix(ctx context.Context, j conversations.Job) error {
	owner := b.leaseOwner()
	held, err := b.store.AcquireFixLease(ctx, j.FixRequestID, owner, b.opts.FixLease)
	switch {
	case err != nil:
		return fmt.Errorf("acquiring the lease of fix %s: %w", j.FixRequestID, err) // retried: the job stays pending
	case !held:
		b.log.InfoContext(ctx, "fix job not run: another replica holds the fix", "fix_id", j.FixRequestID)
		return nil
	}
	fr, err := b.store.Transition(ctx, j.FixRequestID, diag.FixApproved, diag.FixRunning, nil)
	if err != nil {
		b.log.InfoContext(ctx, "fix job not run", "fix_id", j.FixRequestID, "err", err)
		b.releaseLease(j.FixRequestID, owner)
		return nil // already running or done elsewhere, or never approved
	}
	b.audit(ctx, fixEvent(fr, fr.Approver, "fix.started", ""))
	return b.carryOut(ctx, fr, owner, func(ctx context.Context, plan diag.FixPlan) (diag.FixOutcome, error) {
		return b.fixer.Execute(diag.WithChangeNote(ctx, func(requestID string) { b.noteChange(ctx, fr.ID, requestID) }), plan)
	})
}

// changeParam is the fix request parameter holding the request ID of the
// fix's last accepted change, for reconciliation.
const changeParam = "change_request_id"

// noteChange records, before the fix goes on, the request ID of a change the
// cloud accepted, so that a reconciliation can tell it from another one.
func (b *Bot) noteChange(ctx context.Context, id, requestID string) {
	if err := b.store.SetFixParam(context.WithoutCancel(ctx), id, changeParam, requestID); err != nil {
		b.log.WarnContext(ctx, "noting a fix's change", "fix_id", id, "request_id", requestID, "err", err)
	}
}

// leaseOwner names this replica's hold on a fix.
func (b *Bot) leaseOwner() string { return b.opts.Replica + "." + conversations.NewID() }

// carryOut runs do (Execute or Reconcile) on fr's stored plan while holding
// its lease, then records the outcome. Shutdown (the end of ctx) leaves do
// FixGrace to finish; if it does not, the fix is handed over: its lease is
// released and it stays running, for another replica to reconcile. If the
// lease is lost (Redis kept the renewals out for a whole FixLease), do is
// stopped and the new holder records the outcome.
func (b *Bot) carryOut(ctx context.Context, fr conversations.FixRequest, owner string, do func(context.Context, diag.FixPlan) (diag.FixOutcome, error)) error {
	// From here on the fix may touch the cloud: its outcome is recorded even
	// if shutdown begins.
	record := context.WithoutCancel(ctx)
	defer b.releaseLease(fr.ID, owner)
	if fr.Plan == nil {
		return b.finishFix(record, fr, diag.FixOutcome{Result: diag.FixFailed,
			Summary: "Not applied: this request has no stored plan, so nothing was changed. Press the fix button on the report to ask again."}, nil)
	}
	runCtx, cancel := graceful(ctx, b.opts.FixGrace, fixTimeout)
	lost := b.renewLease(record, fr.ID, owner, cancel)
	outcome, err := do(runCtx, *fr.Plan)
	cancel()
	switch {
	case lost():
		b.log.WarnContext(record, "lost the lease of a fix in hand: its new holder records the outcome", "fix_id", fr.ID, "request_ids", outcome.RequestIDs)
		return nil
	case err != nil && ctx.Err() != nil:
		b.handOver(record, fr, outcome)
		return nil
	}
	return b.finishFix(record, fr, outcome, err)
}

// graceful returns a context for work that shutdown (the end of parent)
// should not cut short at once: it ends grace after parent does, or after
// timeout.
func graceful(parent context.Context, grace, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), timeout)
	stop := context.AfterFunc(parent, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(ctx, func() { t.Stop() })
	})
	return ctx, func() { stop(); cancel() }
}

// renewLease keeps owner's lease of fix id alive until ctx ends or the
// returned function is called; that function stops the renewals and reports
// whether the lease was lost to another replica, in which case onLost was
// called as soon as that was known.
func (b *Bot) renewLease(ctx context.Context, id, owner string, onLost func()) (stop func() (lost bool)) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var lost bool
	go func() {
		defer close(done)
		tick := time.NewTicker(b.opts.FixLease / 3)
		defer tick.Stop()
		for !lost {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			held, err := b.store.RenewFixLease(ctx, id, owner, b.opts.FixLease)
			switch {
			case err != nil && ctx.Err() == nil:
				b.log.WarnContext(ctx, "could not renew the lease of a fix in hand", "fix_id", id, "err", err)
			case err == nil && !held:
				lost = true
				onLost()
			}
		}
	}()
	return func() bool {
		cancel()
		<-done
		return lost
	}
}

// releaseLease gives up owner's lease of fix id.
func (b *Bot) releaseLease(id, owner string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.store.ReleaseFixLease(ctx, id, owner); err != nil {
		b.log.WarnContext(ctx, "releasing the lease of a fix", "fix_id", id, "err", err)
	}
}

// handOver leaves a fix that shutdown interrupted running, with its lease
// released so that another replica reconciles it at once, and says so in
// the thread: it is in progress, not failed.
func (b *Bot) handOver(ctx context.Context, fr conversations.FixRequest, outcome diag.FixOutcome) {
	b.log.InfoContext(ctx, "shutting down: handing a fix in progress over to another replica", "fix_id", fr.ID, "request_ids", outcome.RequestIDs)
	ev := fixEvent(fr, "cvmlogin", "fix.handed_over", "in progress: cvmlogin is restarting; another replica will record the outcome")
	ev.RequestID = strings.Join(outcome.RequestIDs, ",")
	b.audit(ctx, ev)
	c, err := b.store.Conversation(ctx, fr.ConversationID)
	if err != nil {
		return
	}
	b.postThread(ctx, "posting a fix hand-over", c.Channel, c.ThreadTS, fmt.Sprintf(
		":hourglass_flowing_sand: *%s* on %s is still in progress: cvmlogin is restarting, and another replica will post its outcome here.",
		fixTitles[diag.FixAction(fr.Action)], fr.InstanceID))
}

// reconcileStranded finishes the running fixes whose replica died or handed
// them over (their lease expired or was released): it takes each one's
// lease, reads the cloud to learn what the fix did, and records that once.
// Reconciliations run on wg, for the caller to wait for.
func (b *Bot) reconcileStranded(ctx context.Context, wg *sync.WaitGroup) {
	stranded, err := b.store.StrandedFixes(ctx)
	if err != nil && ctx.Err() == nil {
		b.log.WarnContext(ctx, "listing stranded fixes", "err", err)
	}
	for _, fr := range stranded {
		owner := b.leaseOwner()
		held, err := b.store.AcquireFixLease(ctx, fr.ID, owner, b.opts.FixLease)
		if err != nil || !held {
			continue // another replica took it
		}
		if fr, err = b.store.FixRequest(ctx, fr.ID); err != nil || fr.Status != diag.FixRunning {
			b.releaseLease(fr.ID, owner) // finished meanwhile
			continue
		}
		b.log.InfoContext(ctx, "reconciling a fix its replica left running", "fix_id", fr.ID, "action", fr.Action, "instance_id", fr.InstanceID)
		wg.Go(func() {
			if err := b.carryOut(ctx, fr, owner, func(ctx context.Context, plan diag.FixPlan) (diag.FixOutcome, error) {
				return b.reconcile(ctx, plan, fr.Params[changeParam])
			}); err != nil {
				b.log.WarnContext(ctx, "reconciling a fix", "fix_id", fr.ID, "err", err)
			}
		})
	}
}

// reconcile is Reconcile, its summary saying that it was recovered.
func (b *Bot) reconcile(ctx context.Context, plan diag.FixPlan, requestID string) (diag.FixOutcome, error) {
	outcome, err := b.fixer.Reconcile(ctx, plan, requestID)
	outcome.Summary = "Recovered after cvmlogin stopped mid-fix: " + outcome.Summary
	return outcome, err
}

// finishFix records the outcome once (running → succeeded or failed, by
// compare-and-set); only the replica that recorded it tells the thread,
// audits it and re-diagnoses after a change.
func (b *Bot) finishFix(ctx context.Context, fr conversations.FixRequest, outcome diag.FixOutcome, execErr error) error {
	to := diag.FixSucceeded
	if execErr != nil || outcome.Result == diag.FixFailed {
		to = diag.FixFailed
	}
	summary := outcome.Summary
	if execErr != nil {
		summary = strings.TrimSpace(summary + " " + execErr.Error())
	}
	if _, err := b.store.Transition(ctx, fr.ID, diag.FixRunning, to, func(f *conversations.FixRequest) {
		f.Outcome = summary
		if outcome.Undo != "" {
			f.Params[paramRepairUndo] = outcome.Undo
		}
	}); err != nil {
		b.log.ErrorContext(ctx, "recording a fix outcome: left for reconciliation", "fix_id", fr.ID, "outcome", to, "err", err)
		return errors.Join(execErr, err)
	}
	ev := fixEvent(fr, fr.Approver, "fix."+string(to), summary)
	ev.RequestID = strings.Join(outcome.RequestIDs, ",")
	b.audit(ctx, ev)
	b.opts.Metrics.FixEvent(fr.Action, fixEndOutcome(to, outcome))
	c, err := b.store.Conversation(ctx, fr.ConversationID)
	if err != nil {
		b.log.WarnContext(ctx, "the conversation of a finished fix is gone", "fix_id", fr.ID, "err", err)
		return execErr
	}
	b.recordOpenPorts(ctx, c, fr, outcome, to)
	b.postThread(ctx, "posting a fix outcome", c.Channel, c.ThreadTS,
		fmt.Sprintf("%s *%s* (approved by <@%s>): %s", outcomeMark(to, outcome), fixTitles[diag.FixAction(fr.Action)], fr.Approver, escapeMrkdwn(summary)))
	_ = b.logEntry(ctx, c.ID, "fix", fmt.Sprintf("%s %s: %s", fixTitles[diag.FixAction(fr.Action)], to, summary))
	if changed(to, outcome) {
		if text, err := b.queueRediagnosis(ctx, c, fr.Approver); err != nil || text != "" {
			b.log.InfoContext(ctx, "no automatic re-diagnosis after the fix", "fix_id", fr.ID, "reason", text, "err", err)
		}
		if a := diag.FixAction(fr.Action); a == diag.FixRestartInstance || a == diag.FixStartInstance {
			if _, err := b.startWatch(ctx, c, fr.Approver); err != nil {
				b.log.InfoContext(ctx, "no login watch after the fix", "fix_id", fr.ID, "err", err)
			}
		}
	}
	return execErr
}

// changed reports whether a fix that ended in status made its change.
func changed(status diag.FixStatus, outcome diag.FixOutcome) bool {
	return status == diag.FixSucceeded && outcome.Result == diag.FixSucceeded
}

// outcomeMark is the emoji of a fix outcome in the thread.
func outcomeMark(status diag.FixStatus, outcome diag.FixOutcome) string {
	switch {
	case status == diag.FixFailed:
		return ":x:"
	case outcome.Result == diag.FixNotApplicable:
		return ":information_source:"
	}
	return ":white_check_mark:"
}

// recordOpenPorts remembers which fix opened ports (in the security group or
// the guest's firewall), so that their undo knows.
func (b *Bot) recordOpenPorts(ctx context.Context, c conversations.Conversation, fr conversations.FixRequest, outcome diag.FixOutcome, status diag.FixStatus) {
	if !changed(status, outcome) {
		return
	}
	var err error
	switch diag.FixAction(fr.Action) {
	case diag.FixOpenAllPorts, diag.FixOpenLoginPort:
		err = b.store.SetOpenPortsFix(ctx, c.ID, fr.ID)
	case diag.FixUndoOpenPorts:
		err = b.store.SetOpenPortsFix(ctx, c.ID, "")
	case diag.FixOpenGuestFirewall:
		err = b.store.SetGuestFirewallFix(ctx, c.ID, fr.ID)
	case diag.FixUndoGuestFirewall:
		err = b.store.SetGuestFirewallFix(ctx, c.ID, "")
	}
	if err != nil {
		b.log.ErrorContext(ctx, "recording opened ports", "fix_id", fr.ID, "err", err)
	}
}
