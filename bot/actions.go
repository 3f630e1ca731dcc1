package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/bot/slackio"
	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
)

// The approval buttons' action IDs (design.md B6).
const (
	ActionApprove = "approve"
	ActionReject  = "reject"
)

// press is one button press, verified and resolved.
type press struct {
	user    string
	channel string
	action  string
	message string // ts of the message holding the button
	trigger string // the press's trigger_id, which can open a modal
	ref     conversations.Ref
	conv    conversations.Conversation
}

// reply shows text to whoever pressed, in the conversation's thread.
func (b *Bot) reply(ctx context.Context, p press, text string) {
	b.ephemeral(ctx, p.channel, p.user, p.conv.ThreadTS, text)
}

// Action implements slackio.Handler: it resolves each pressed button's opaque value
// and dispatches it. A value that is unknown, expired, or belongs to another
// channel or button is refused.
func (b *Bot) Action(ctx context.Context, cb slack.InteractionCallback) {
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	for _, a := range cb.ActionCallback.BlockActions {
		p, refusal := b.resolvePress(ctx, cb, a)
		if refusal != "" {
			r := slackio.PressRefusal(cb) // with its response_url, should the ephemeral fail for good
			r.Text = refusal
			b.answer(ctx, r)
			continue
		}
		b.dispatch(ctx, p)
	}
}

const msgStaleButton = "This button has expired or is not valid here any more, so nothing was done. Run `/cvm-login` again or press *Re-diagnose* on a newer report."

// resolvePress trusts only the verified payload's user and channel, and the
// state the button's value points to.
func (b *Bot) resolvePress(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) (press, string) {
	p := press{user: cb.User.ID, channel: cb.Channel.ID, action: a.ActionID, message: cb.Message.Timestamp, trigger: cb.TriggerID}
	log := b.log.With("user", p.user, "channel", p.channel, "action", p.action)
	if !b.channelAllowed(p.channel) {
		return p, msgChannelNotAllowed
	}
	ref, err := b.store.ResolveRef(ctx, a.Value)
	switch {
	case errors.Is(err, conversations.ErrNotFound):
		log.Warn("refused a button with an unknown value")
		return p, msgStaleButton
	case err != nil:
		log.Error("resolving a button", "err", err)
		return p, storeTrouble(err)
	case ref.Action != p.action || ref.Channel != p.channel:
		log.Warn("refused a button value that belongs elsewhere", "ref_action", ref.Action, "ref_channel", ref.Channel)
		return p, msgStaleButton
	}
	p.ref = ref
	if p.conv, err = b.store.Conversation(ctx, ref.ConversationID); err != nil {
		log.Error("reading the button's conversation", "err", err)
		if errors.Is(err, conversations.ErrNotFound) {
			return p, msgStaleButton
		}
		return p, storeTrouble(err)
	}
	if p.conv.MessageTS == "" && p.conv.ThreadTS == "" {
		// Pressed on the report in the moment between its post and the
		// record of where it is: the pressed message is the report, and its
		// thread is where everything about it goes.
		p.conv.MessageTS, p.conv.ThreadTS = p.message, p.message
	}
	return p, ""
}

func (b *Bot) dispatch(ctx context.Context, p press) {
	switch p.action {
	case ActionRediagnose:
		b.rediagnose(ctx, p)
	case ActionExportReport:
		b.export(ctx, p)
	case ActionOpenVNC:
		b.openVNC(ctx, p)
	case ActionWatchLogin:
		b.watchLogin(ctx, p)
	case ActionPasteSymptom:
		b.pasteSymptom(ctx, p)
	case ActionApprove, ActionReject:
		b.decide(ctx, p)
	default:
		if slices.Contains(diag.FixActions, diag.FixAction(p.action)) {
			b.requestFix(ctx, p)
		}
	}
}

// rediagnose queues a new diagnosis into the same conversation, unless one
// for the instance is running.
func (b *Bot) rediagnose(ctx context.Context, p press) {
	text, err := b.queueRediagnosis(ctx, p.conv, p.user)
	if err != nil {
		b.log.ErrorContext(ctx, "queueing a re-diagnosis", "diag_id", p.conv.ID, "err", err)
	}
	if text != "" {
		b.reply(ctx, p, text)
	}
}

// queueRediagnosis coalesces and enqueues a diagnosis of an existing
// conversation; it returns what to tell the user, if anything.
func (b *Bot) queueRediagnosis(ctx context.Context, c conversations.Conversation, user string) (string, error) {
	job := conversations.Job{ID: conversations.NewID(), Kind: conversations.JobDiagnose, ConversationID: c.ID,
		Target: c.Target, Region: c.Region, Port: c.Port, Symptom: c.Symptom, Requester: user}
	return b.enqueueDiagnosis(ctx, c, job)
}

// exportWindow drops a second export of the same report pressed within it.
const exportWindow = 30 * time.Second

// export uploads the report as Markdown and JSON into the thread, ready to
// attach to a Tencent Cloud support ticket.
func (b *Bot) export(ctx context.Context, p press) {
	report, err := b.store.Report(ctx, p.conv.ID)
	if err != nil {
		b.reply(ctx, p, storeTrouble(err))
		return
	}
	key := p.conv.ID + "/" + report.StartedAt.Format(time.RFC3339Nano)
	if first, err := b.store.FirstSeen(ctx, "export", key, exportWindow); err != nil || !first {
		return
	}
	if err := b.uploadReport(ctx, p.conv, report); err != nil {
		b.log.ErrorContext(ctx, "exporting a report", "diag_id", p.conv.ID, "err", err)
		b.reply(ctx, p, "I could not upload the report files: "+escapeMrkdwn(err.Error()))
		return
	}
	_ = b.logEntry(ctx, p.conv.ID, "export", fmt.Sprintf("<@%s> exported the report", p.user))
}

// approverList names who may approve, for refusals.
func approverList(approvers, groups []string) string {
	var who []string
	for _, u := range approvers {
		who = append(who, "<@"+u+">")
	}
	for _, g := range groups {
		who = append(who, "<!subteam^"+g+">")
	}
	if len(who) == 0 {
		return "nobody (no approvers are configured: ask whoever runs the bot to set `approvals.approvers`)"
	}
	return joinList(who)
}

func joinList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	out := ""
	for i, s := range items {
		switch {
		case i == 0:
			out = s
		case i == len(items)-1:
			out += " or " + s
		default:
			out += ", " + s
		}
	}
	return out
}
