package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	undoOf := ""
	if action == diag.FixUndoOpenPorts {
		if undoOf = p.conv.OpenPortsFix; undoOf == "" {
			b.reply(ctx, p, "Nothing to undo: cvmlogin has not opened ports for this report.")
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
		Params: map[string]string{"plan": plan.Describe(), "undo_of": undoOf},
	}
	if !b.opts.FourEyes && b.isApprover(ctx, p.user) {
		if fr, ok := b.recordRequest(ctx, p, fr); ok {
			b.approve(ctx, p, fr, "")
		}
		return
	}
	ts, err := b.postApprovalRequest(ctx, p, fr, plan)
	if err != nil {
		b.log.ErrorContext(ctx, "posting a fix request", "fix_id", fr.ID, "err", err)
		b.reply(ctx, p, storeTrouble(err))
		return
	}
	fr.Params[approvalMessageParam] = ts
	if _, ok := b.recordRequest(ctx, p, fr); !ok {
		b.closeApproval(ctx, fr, ts, ":warning: Not recorded: cvmlogin's state store is unavailable, so nothing will change. Press the fix button again later.")
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
	b.opts.Metrics.FixEvent(fr.Action, conversations.FixRequested)
	_ = b.logEntry(ctx, p.conv.ID, "fix", fmt.Sprintf("<@%s> requested %s: %s", p.user, fixTitles[diag.FixAction(fr.Action)], fr.Params["plan"]))
	return fr, true
}

// planFix plans a fix on the report's instance. An undo targets the group
// its open changed, even if the instance's groups changed since.
func (b *Bot) planFix(ctx context.Context, id string, action diag.FixAction, report *diag.Report, undoOf string) (diag.FixPlan, error) {
	plan, err := diag.PlanFix(id, action, *report.Instance, report.Region, undoOf)
	if err != nil || action != diag.FixUndoOpenPorts {
		return plan, err
	}
	opened, err := b.store.FixRequest(ctx, undoOf)
	if err != nil {
		return plan, fmt.Errorf("reading the fix that opened the ports: %w", err)
	}
	if opened.SecurityGroupID != "" {
		plan.GroupID = opened.SecurityGroupID
	}
	return plan, nil
}

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
	if fr.Status == conversations.FixExpired {
		b.reply(ctx, p, fmt.Sprintf("This request expired at %s and nothing was changed. Press the fix button on the report again to ask anew.", fr.ExpiresAt.UTC().Format("15:04 MST")))
		if expired, err := b.store.Transition(ctx, fr.ID, conversations.FixRequested, conversations.FixExpired, nil); err == nil {
			b.announceExpiry(ctx, expired) // unless the sweeper already did
		}
		return
	}
	if refusal := b.mayDecide(ctx, p, fr); refusal != "" {
		b.audit(ctx, fixEvent(fr, p.user, "fix.refused", refusal))
		b.opts.Metrics.FixEvent(fr.Action, fixRefused)
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
	fr, ok := b.decideOnce(ctx, p, fr, conversations.FixApproved, ":white_check_mark: Approved by <@%s> at %s; applying it now.")
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
	b.decideOnce(ctx, p, fr, conversations.FixRejected, ":no_entry_sign: Rejected by <@%s> at %s; nothing was changed.")
}

// decideOnce moves fr from requested to status (approved or rejected) by
// compare-and-set, records the decision, and replaces the approval buttons
// by decision (a format taking the user and the time). ok is false when
// someone else decided first or the request expired; the presser is told.
func (b *Bot) decideOnce(ctx context.Context, p press, fr conversations.FixRequest, status, decision string) (conversations.FixRequest, bool) {
	fr, err := b.store.Transition(ctx, fr.ID, conversations.FixRequested, status, func(f *conversations.FixRequest) { f.Approver = p.user })
	if err != nil {
		b.refuseTransition(ctx, p, fr, err)
		return fr, false
	}
	b.audit(ctx, fixEvent(fr, p.user, "fix."+status, ""))
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
	b.opts.Metrics.FixEvent(fr.Action, conversations.FixExpired)
	_ = b.logEntry(ctx, fr.ConversationID, "fix", fmt.Sprintf("%s request by <@%s> expired undecided", fixTitles[diag.FixAction(fr.Action)], fr.Requester))
	b.closeApproval(ctx, fr, fr.Params[approvalMessageParam], fmt.Sprintf(
		":hourglass: Expired at %s without a decision; nothing was changed. Press the fix button on the report to ask again.", fr.ExpiresAt.UTC().Format("15:04 MST")))
}

// sweepExpiries expires undecided fix requests as their approval windows
// end, every interval until ctx is done. Every replica sweeps; each request
// is announced once.
func (b *Bot) sweepExpiries(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
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
		Params: map[string]string{"fix": fr.Action, "security_group": fr.SecurityGroupID, "plan": fr.Params["plan"]}, Result: result}
}

// fixTimeout bounds one fix, including watching a reboot.
const fixTimeout = 10 * time.Minute

// runFix executes an approved fix exactly once: the approved → running
// transition is a compare-and-set, so a redelivered job, a second replica
// or a click storm cannot run it twice. Then it reports the outcome and
// re-diagnoses.
func (b *Bot) runFix(ctx context.Context, j conversations.Job) error {
	fr, err := b.store.Transition(ctx, j.FixRequestID, conversations.FixApproved, conversations.FixRunning, nil)
	if err != nil {
		b.log.InfoContext(ctx, "fix job not run", "fix_id", j.FixRequestID, "err", err)
		return nil // already running or done elsewhere, or never approved
	}
	// From here on the fix may touch the cloud: its outcome is recorded even
	// if shutdown begins.
	record := context.WithoutCancel(ctx)
	c, err := b.store.Conversation(ctx, fr.ConversationID)
	if err != nil {
		return b.finishFix(record, c, fr, diag.FixOutcome{Result: "failed", Summary: "the conversation is gone"}, err)
	}
	report, err := b.store.Report(ctx, c.ID)
	if err != nil || report.Instance == nil {
		return b.finishFix(record, c, fr, diag.FixOutcome{Result: "failed", Summary: "the report is gone"}, err)
	}
	plan, err := b.planFix(ctx, fr.ID, diag.FixAction(fr.Action), report, fr.Params["undo_of"])
	if err != nil {
		return b.finishFix(record, c, fr, diag.FixOutcome{Result: "failed", Summary: err.Error()}, nil)
	}
	b.audit(ctx, fixEvent(fr, fr.Approver, "fix.started", ""))
	runCtx, cancel := context.WithTimeout(ctx, fixTimeout)
	outcome, err := b.fixer.Execute(runCtx, plan)
	cancel()
	return b.finishFix(record, c, fr, outcome, err)
}

// finishFix records the outcome, tells the thread, and re-diagnoses after a
// change.
func (b *Bot) finishFix(ctx context.Context, c conversations.Conversation, fr conversations.FixRequest, outcome diag.FixOutcome, execErr error) error {
	to := conversations.FixSucceeded
	if execErr != nil || outcome.Result == "failed" {
		to = conversations.FixFailed
	}
	summary := outcome.Summary
	if execErr != nil {
		summary = strings.TrimSpace(summary + " " + execErr.Error())
	}
	if _, err := b.store.Transition(ctx, fr.ID, conversations.FixRunning, to, func(f *conversations.FixRequest) { f.Outcome = summary }); err != nil {
		b.log.ErrorContext(ctx, "recording a fix outcome", "fix_id", fr.ID, "err", err)
	}
	ev := fixEvent(fr, fr.Approver, "fix."+to, summary)
	ev.RequestID = strings.Join(outcome.RequestIDs, ",")
	b.audit(ctx, ev)
	b.opts.Metrics.FixEvent(fr.Action, fixEndOutcome(to, outcome))
	if c.ID == "" {
		return execErr
	}
	b.recordOpenPorts(ctx, c, fr, outcome, to)
	mark := ":white_check_mark:"
	if to == conversations.FixFailed {
		mark = ":x:"
	} else if outcome.Result == "not_applicable" {
		mark = ":information_source:"
	}
	b.postThread(ctx, "posting a fix outcome", c.Channel, c.ThreadTS,
		fmt.Sprintf("%s *%s* (approved by <@%s>): %s", mark, fixTitles[diag.FixAction(fr.Action)], fr.Approver, escapeMrkdwn(summary)))
	_ = b.logEntry(ctx, c.ID, "fix", fmt.Sprintf("%s %s: %s", fixTitles[diag.FixAction(fr.Action)], to, summary))
	if to == conversations.FixSucceeded && outcome.Result == "succeeded" {
		if text, err := b.queueRediagnosis(ctx, c, fr.Approver); err != nil || text != "" {
			b.log.InfoContext(ctx, "no automatic re-diagnosis after the fix", "fix_id", fr.ID, "reason", text, "err", err)
		}
	}
	return execErr
}

// recordOpenPorts remembers which fix opened ports, so that undo knows.
func (b *Bot) recordOpenPorts(ctx context.Context, c conversations.Conversation, fr conversations.FixRequest, outcome diag.FixOutcome, status string) {
	if status != conversations.FixSucceeded || outcome.Result != "succeeded" {
		return
	}
	var err error
	switch diag.FixAction(fr.Action) {
	case diag.FixOpenAllPorts, diag.FixOpenLoginPort:
		err = b.store.SetOpenPortsFix(ctx, c.ID, fr.ID)
	case diag.FixUndoOpenPorts:
		err = b.store.SetOpenPortsFix(ctx, c.ID, "")
	}
	if err != nil {
		b.log.ErrorContext(ctx, "recording opened ports", "fix_id", fr.ID, "err", err)
	}
}
