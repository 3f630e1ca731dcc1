package bot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"
)

// pacer spaces the bot's posts per channel: Slack allows about one message
// per second per channel, and bursts are throttled.
type pacer struct {
	every    time.Duration
	mu       sync.Mutex
	channels map[string]*rate.Limiter
}

func newPacer(every time.Duration) *pacer {
	return &pacer{every: every, channels: map[string]*rate.Limiter{}}
}

// wait blocks until channel may take another message.
func (p *pacer) wait(ctx context.Context, channel string) error {
	p.mu.Lock()
	l, ok := p.channels[channel]
	if !ok {
		l = rate.NewLimiter(rate.Every(p.every), 3)
		p.channels[channel] = l
	}
	p.mu.Unlock()
	return l.Wait(ctx)
}

// permanentSlackErrors are Web API errors that retrying cannot fix.
var permanentSlackErrors = []string{
	"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed", "account_inactive",
	"token_revoked", "missing_scope", "msg_too_long", "invalid_blocks", "invalid_blocks_format", "no_text",
	"message_not_found", "cant_update_message", "edit_window_closed", "restricted_action", "user_not_in_channel",
	"invalid_arguments", "file_uploads_disabled",
}

// transient reports whether a Slack call that failed with err may succeed
// if tried again later.
func transient(err error) bool {
	var rl *slack.RateLimitedError
	var se slack.SlackErrorResponse
	var sc slack.StatusCodeError
	var ne net.Error
	switch {
	case errors.As(err, &rl), errors.As(err, &ne):
		return true
	case errors.As(err, &se):
		return !slices.Contains(permanentSlackErrors, se.Err)
	case errors.As(err, &sc):
		return sc.Code >= 500 || sc.Code == 429
	}
	return !errors.Is(err, context.Canceled)
}

// deliver runs a Slack call until it succeeds, fails permanently, or the
// delivery TTL passes, backing off between tries: a Slack outage must not
// lose a finished report.
func (b *Bot) deliver(ctx context.Context, what string, call func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, b.opts.DeliveryTTL)
	defer cancel()
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := call(ctx)
		if err == nil {
			return nil
		}
		if !transient(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		var rl *slack.RateLimitedError
		if errors.As(err, &rl) && rl.RetryAfter > wait {
			wait = rl.RetryAfter
		}
		b.log.WarnContext(ctx, "Slack call failed, retrying", "what", what, "attempt", attempt, "retry_in", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%s: gave up after %d attempts (%w): %w", what, attempt, ctx.Err(), err)
		case <-timer.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// post sends a message to channel (in thread when set) through the pacer and
// delivery retries, and returns its ts.
func (b *Bot) post(ctx context.Context, what, channel, thread string, opts ...slack.MsgOption) (string, error) {
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	var ts string
	err := b.deliver(ctx, what, func(ctx context.Context) error {
		if err := b.pacer.wait(ctx, channel); err != nil {
			return err
		}
		var err error
		_, ts, err = b.slack.PostMessageContext(ctx, channel, opts...)
		return err
	})
	return ts, err
}

// update replaces a message, with delivery retries.
func (b *Bot) update(ctx context.Context, what, channel, ts string, opts ...slack.MsgOption) error {
	return b.deliver(ctx, what, func(ctx context.Context) error {
		_, _, _, err := b.slack.UpdateMessageContext(ctx, channel, ts, opts...)
		return err
	})
}

// postThread posts each text as its own message in the thread.
func (b *Bot) postThread(ctx context.Context, what, channel, thread string, texts ...string) {
	for _, text := range texts {
		if _, err := b.post(ctx, what, channel, thread, slack.MsgOptionText(text, false)); err != nil {
			b.log.ErrorContext(ctx, "posting to a thread", "what", what, "channel", channel, "thread", thread, "err", err)
			return
		}
	}
}
