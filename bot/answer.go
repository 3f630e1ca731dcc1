package bot

import (
	"context"
	"time"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/bot/slackio"
)

// answerTimeout bounds the delivery of one answer to a user, retries
// included, counted from when it is sent: the handling that produced it may
// have spent its own deadline (a frozen state store, a paced channel), and
// the user must still hear back.
const answerTimeout = 10 * time.Second

// Refuse implements slackio.Handler.
func (b *Bot) Refuse(ctx context.Context, r slackio.Refusal) {
	b.answer(ctx, r)
}

// answer shows r.Text to r.User only: as an ephemeral message in r.Channel
// (in r.ThreadTS when set), retried while Slack fails transiently, else
// through r.ResponseURL when there is one. It has a deadline of its own,
// answerTimeout, whatever is left of ctx's, and never waits on the channel's
// pacer: answers are not queued behind channel posts.
func (b *Bot) answer(ctx context.Context, r slackio.Refusal) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), answerTimeout)
	defer cancel()
	opts := []slack.MsgOption{slack.MsgOptionText(r.Text, false)}
	if r.ThreadTS != "" {
		opts = append(opts, slack.MsgOptionTS(r.ThreadTS))
	}
	err := b.deliver(ctx, "answering a user", func(ctx context.Context) error {
		_, err := b.slack.PostEphemeralContext(ctx, r.Channel, r.User, opts...)
		return err
	})
	if err != nil && r.ResponseURL != "" {
		err = b.deliver(ctx, "answering through response_url", func(ctx context.Context) error {
			_, _, err := b.slack.PostMessageContext(ctx, r.Channel, slack.MsgOptionResponseURL(r.ResponseURL, slack.ResponseTypeEphemeral), slack.MsgOptionText(r.Text, false))
			return err
		})
	}
	if err != nil {
		b.log.ErrorContext(ctx, "could not answer a user", "channel", r.Channel, "user", r.User, "err", err)
	}
}
