package bot

import (
	"context"
	"fmt"

	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
)

// labelOpenVNC is the VNC button's label.
const labelOpenVNC = "Open VNC console"

// VNCOpener makes one-time VNC console addresses. *tencent.Client satisfies
// it (cvm:DescribeInstanceVncUrl).
type VNCOpener interface {
	InstanceVNCURL(ctx context.Context, region, instanceID string) (string, error)
}

// openVNC answers an approver, and only them, with a link to the instance's
// VNC console, made when pressed: Tencent makes it valid for 15 seconds and
// one connection, so it is never stored, logged or posted in the channel.
func (b *Bot) openVNC(ctx context.Context, p press) {
	switch {
	case b.opts.VNC == nil:
		b.reply(ctx, p, "The VNC console is not available in this deployment.")
		return
	case !b.isApprover(ctx, p.user):
		b.reply(ctx, p, "Only approvers can open the VNC console: it gives control of the instance's screen and keyboard. Ask "+
			approverList(b.opts.Approvers, b.opts.ApproverGroups)+".")
		return
	}
	report, err := b.store.Report(ctx, p.conv.ID)
	if err != nil || report.Instance == nil {
		b.reply(ctx, p, "There is no instance in this report to open a console on.")
		return
	}
	wss, err := b.opts.VNC.InstanceVNCURL(ctx, report.Region, report.Instance.ID)
	if err == nil {
		var link string
		if link, err = diag.VNCConsoleURL(wss); err == nil {
			b.audit(ctx, vncEvent(p, report))
			b.reply(ctx, p, fmt.Sprintf(":desktop_computer: <%s|Open the VNC console of %s> — the link works once, within %s of now; press the button again for a new one.",
				link, escapeMrkdwn(report.Instance.ID), diag.VNCLinkLifetime))
			return
		}
	}
	b.log.WarnContext(ctx, "opening a VNC console", "instance", report.Instance.ID, "err", err)
	b.reply(ctx, p, "Tencent Cloud did not give a VNC console for "+escapeMrkdwn(report.Instance.ID)+
		" (a stopped instance has none, and the bot needs cvm:DescribeInstanceVncUrl). Open it from the Tencent Cloud console instead.")
}

// vncEvent is the audit entry of a VNC console opened: who, on what; never
// the link.
func vncEvent(p press, r *diag.Report) conversations.Event {
	return conversations.Event{Actor: p.user, Action: ActionOpenVNC, InstanceID: r.Instance.ID, Region: r.Region, Channel: p.channel,
		Params: map[string]string{"diag_id": p.conv.ID}, Result: "link sent to the presser"}
}
