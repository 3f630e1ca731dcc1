package bot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/internal/pause"
)

// Pacer spaces Slack calls across every worker and replica, so that the bot
// keeps to Slack's limits instead of retrying into 429s.
// *conversations.Pacer satisfies it.
type Pacer interface {
	Reserve(ctx context.Context, scope string, limits []conversations.Limit, maxWait time.Duration) (time.Duration, bool, error)
	HoldOff(ctx context.Context, scope string, l conversations.Limit, d time.Duration) error
}

// Slack's documented limits, per app and workspace: chat.update is Tier 3
// (50 per minute); chat.postMessage allows about one message per second per
// channel with short bursts, and several hundred per minute in all (the
// bot keeps to 300, a fifth of PostInterval apart). The bursts the bot
// allows itself are a little smaller than Slack's, because a burst booked
// at once reaches Slack spread over some milliseconds, which Slack's bucket
// does not refill.
const (
	channelPostBurst   = 2
	workspacePostShare = 5
	workspacePostBurst = 15
	updateBurst        = 4
)

// paceMargin is added to every paced wait: the pacer's clock (Redis's, in
// milliseconds) and Slack's differ by a little, and a call a hair early is a
// 429.
const paceMargin = 5 * time.Millisecond

// methodPost and methodUpdate name the paced methods in limit keys.
const (
	methodPost   = "chat.postMessage"
	methodUpdate = "chat.update"
)

// postLimits are the limits a chat.postMessage in channel is paced by, the
// strictest (the channel's) last.
func (b *Bot) postLimits(channel string) []conversations.Limit {
	return []conversations.Limit{
		{Key: methodPost, Every: b.opts.PostInterval / workspacePostShare, Burst: workspacePostBurst},
		{Key: methodPost + ":" + channel, Every: b.opts.PostInterval, Burst: channelPostBurst},
	}
}

// updateLimits are the limits of a chat.update.
func (b *Bot) updateLimits() []conversations.Limit {
	return []conversations.Limit{{Key: methodUpdate, Every: b.opts.UpdateEvery, Burst: updateBurst}}
}

// localPacer is the Pacer of one process, used while the shared one
// (Redis) is unavailable: better paced alone than not at all.
type localPacer struct {
	mu     sync.Mutex
	limits map[string]*rate.Limiter
	held   map[string]time.Time // no call before this, after a 429
}

func newLocalPacer() *localPacer {
	return &localPacer{limits: map[string]*rate.Limiter{}, held: map[string]time.Time{}}
}

// limiter returns l's limiter in scope and when its hold-off ends.
func (p *localPacer) limiter(scope string, l conversations.Limit) (*rate.Limiter, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := fmt.Sprintf("%s/%s/%v/%d", scope, l.Key, l.Every, l.Burst)
	lim, ok := p.limits[key]
	if !ok {
		lim = rate.NewLimiter(rate.Every(l.Every), max(l.Burst, 1))
		p.limits[key] = lim
	}
	return lim, p.held[key]
}

// Reserve implements Pacer.
func (p *localPacer) Reserve(_ context.Context, scope string, limits []conversations.Limit, maxWait time.Duration) (time.Duration, bool, error) {
	now := time.Now()
	reservations := make([]*rate.Reservation, 0, len(limits))
	var wait time.Duration
	for _, l := range limits {
		lim, held := p.limiter(scope, l)
		r := lim.ReserveN(now, 1)
		reservations = append(reservations, r)
		wait = max(wait, r.DelayFrom(now), held.Sub(now))
	}
	if maxWait >= 0 && wait > maxWait {
		for _, r := range reservations {
			r.CancelAt(now)
		}
		return wait, false, nil
	}
	return wait, true, nil
}

// HoldOff implements Pacer.
func (p *localPacer) HoldOff(_ context.Context, scope string, l conversations.Limit, d time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := scope + "/" + l.Key
	if until := time.Now().Add(d); until.After(p.held[key]) {
		p.held[key] = until
	}
	return nil
}

// reserve books a slot for a call under limits, through the shared pacer or,
// while it fails, this process's, and returns the wait.
func (b *Bot) reserve(ctx context.Context, limits []conversations.Limit, maxWait time.Duration) (time.Duration, bool) {
	scope := b.slackScope(ctx)
	wait, ok, err := b.pacer.Reserve(ctx, scope, limits, maxWait)
	if err != nil {
		b.log.WarnContext(ctx, "shared Slack pacing unavailable, pacing in this process", "err", err)
		wait, ok, _ = b.local.Reserve(ctx, scope, limits, maxWait)
	}
	return wait, ok
}

// holdOff makes every replica wait d before the next call under l.
func (b *Bot) holdOff(ctx context.Context, l conversations.Limit, d time.Duration) {
	scope := b.slackScope(ctx)
	if err := b.pacer.HoldOff(ctx, scope, l, d); err != nil {
		_ = b.local.HoldOff(ctx, scope, l, d)
	}
}

// transientSlackErrors are the Web API errors Slack documents as temporary:
// the same call may succeed later.
var transientSlackErrors = []string{
	"ratelimited", "rate_limited", "fatal_error", "internal_error", "request_timeout",
	"service_unavailable", "team_added_to_org", "timeout",
}

// channelClosedErrors mean the bot cannot post in the channel until a person
// changes something there (invites it, unarchives, lifts a restriction).
var channelClosedErrors = []string{
	"not_in_channel", "channel_not_found", "is_archived", "restricted_action",
	"restricted_action_read_only_channel", "restricted_action_thread_only_channel",
	"restricted_action_non_threadable_channel", "restricted_action_thread_locked",
	"team_access_not_granted", "ekm_access_denied", "not_allowed_token_type",
}

// slackErrorCode returns the Web API error code of err, or "".
func slackErrorCode(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

// transient reports whether a Slack call that failed with err may succeed
// if tried again later: rate limits, 5xx, network failures and the errors
// Slack documents as temporary. Any other ok:false answer is permanent:
// retrying it would only hold a worker.
func transient(err error) bool {
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var ne net.Error
	var ue *url.Error
	switch {
	case errors.As(err, &rl), errors.As(err, &ne), errors.As(err, &ue):
		return true
	case errors.As(err, &sc):
		return sc.Code >= 500 || sc.Code == 429
	}
	return slices.Contains(transientSlackErrors, slackErrorCode(err))
}

// ambiguous reports whether a failed call may nevertheless have taken
// effect: Slack answered 5xx, or the answer was lost on the way.
func ambiguous(err error) bool {
	var sc slack.StatusCodeError
	var ne net.Error
	var ue *url.Error
	return (errors.As(err, &sc) && sc.Code >= 500) || errors.As(err, &ne) || errors.As(err, &ue)
}

// channelClosed reports whether err says the bot cannot post in the channel.
func channelClosed(err error) bool {
	return slices.Contains(channelClosedErrors, slackErrorCode(err))
}

// bookAhead is how far ahead a call books its slot: one waiting longer
// comes back closer to its turn, so that a busy channel never holds the
// workspace's limits far ahead.
const bookAhead = time.Second

// awaitSlot waits until a call under limits may go.
func (b *Bot) awaitSlot(ctx context.Context, limits []conversations.Limit) error {
	for len(limits) > 0 {
		wait, ok := b.reserve(ctx, limits, bookAhead)
		if ok {
			return pause.For(ctx, wait+paceMargin)
		}
		if err := pause.For(ctx, wait-bookAhead/2); err != nil {
			return err
		}
	}
	return nil
}

// deliver runs a Slack call until it succeeds, fails permanently, or the
// delivery TTL passes, backing off between tries: a Slack outage must not
// lose a finished report. The call is not paced; see deliverPaced.
func (b *Bot) deliver(ctx context.Context, what string, call func(ctx context.Context) error) error {
	return b.deliverPaced(ctx, what, nil, call)
}

// deliverPaced is deliver with every try paced under limits, whose last is
// the one a 429 holds off.
func (b *Bot) deliverPaced(ctx context.Context, what string, limits []conversations.Limit, call func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, b.opts.DeliveryTTL)
	defer cancel()
	backoff := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if err := b.awaitSlot(ctx, limits); err != nil {
			return fmt.Errorf("%s: waiting for Slack's rate limit: %w", what, err)
		}
		err := call(ctx)
		if err == nil {
			return nil
		}
		if !transient(err) || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		wait := backoff
		var rl *slack.RateLimitedError
		if errors.As(err, &rl) {
			wait = max(rl.RetryAfter, time.Second)
			if len(limits) > 0 {
				b.holdOff(ctx, limits[len(limits)-1], wait) // the pacer makes every replica wait
				wait = 0
			}
		} else {
			backoff = min(2*backoff, 30*time.Second)
		}
		b.log.WarnContext(ctx, "Slack call failed, retrying", "what", what, "attempt", attempt, "retry_in", wait, "err", err)
		if serr := pause.For(ctx, wait); serr != nil {
			return fmt.Errorf("%s: gave up after %d attempts (%w): %w", what, attempt, serr, err)
		}
	}
}

// post sends a message to channel (in thread when set), paced and with
// delivery retries, and returns its ts.
func (b *Bot) post(ctx context.Context, what, channel, thread string, opts ...slack.MsgOption) (string, error) {
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	var ts string
	err := b.deliverPaced(ctx, what, b.postLimits(channel), func(ctx context.Context) error {
		var err error
		_, ts, err = b.slack.PostMessageContext(ctx, channel, opts...)
		return err
	})
	if channelClosed(err) {
		b.closeChannel(channel)
	}
	return ts, err
}

// update replaces a message, paced and with delivery retries.
func (b *Bot) update(ctx context.Context, what, channel, ts string, opts ...slack.MsgOption) error {
	return b.deliverPaced(ctx, what, b.updateLimits(), func(ctx context.Context) error {
		_, _, _, err := b.slack.UpdateMessageContext(ctx, channel, ts, opts...)
		return err
	})
}

// progressHeadroom is how many chat.update calls of the burst a progress
// update leaves to the updates that must go (reports, decisions).
const progressHeadroom = 2

// updateIfFree replaces a message only if Slack's budget allows it at once
// with room to spare: progress is the first thing to drop under pressure,
// and never takes the last slots from a report. It reports whether the
// update was made.
func (b *Bot) updateIfFree(ctx context.Context, channel, ts string, opts ...slack.MsgOption) bool {
	spare := b.updateLimits()
	spare[0].Burst -= progressHeadroom // the same schedule, judged with less tolerance
	if _, ok := b.reserve(ctx, spare, 0); !ok {
		return false
	}
	_, _, _, err := b.slack.UpdateMessageContext(ctx, channel, ts, opts...)
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		b.holdOff(ctx, b.updateLimits()[0], rl.RetryAfter)
	}
	return err == nil
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

// closedChannelTTL is how long a channel the bot could not post in is
// skipped before the bot tries it again.
const closedChannelTTL = time.Minute

// closeChannel remembers that the bot cannot post in channel, so that its
// next jobs are answered at once instead of holding workers.
func (b *Bot) closeChannel(channel string) {
	b.closedMu.Lock()
	defer b.closedMu.Unlock()
	b.closed[channel] = b.opts.Now().Add(closedChannelTTL)
}

// isClosed reports whether the bot recently failed to post in channel for
// good.
func (b *Bot) isClosed(channel string) bool {
	b.closedMu.Lock()
	defer b.closedMu.Unlock()
	until, ok := b.closed[channel]
	if ok && b.opts.Now().After(until) {
		delete(b.closed, channel)
		return false
	}
	return ok
}
