package slackio

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"golang.org/x/time/rate"
)

// Connection events are logged in bursts of at most connectionLogBurst of
// each kind, refilled at one per connectionLogEvery; the ones held back are
// counted and reported with the next.
const (
	connectionLogBurst = 5
	connectionLogEvery = 30 * time.Second
)

// drainTimeout bounds how long Run waits for acknowledged work once its
// context is done.
const drainTimeout = asyncTimeout

// ackTimeout bounds how long an acknowledgement may wait for slack-go's
// writer, which is gone between connections; Slack redelivers an envelope
// whose acknowledgement is lost.
const ackTimeout = 5 * time.Second

// SocketOptions configure a SocketClient. Zero values take the defaults
// noted.
type SocketOptions struct {
	// Logger receives the client's logs; nil discards them.
	Logger *slog.Logger
	// MaxInFlight bounds the Handler calls running after their envelopes
	// were acknowledged; default DefaultMaxInFlight.
	MaxInFlight int
	// ObserveAck, if not nil, is called with the kind (AckCommand,
	// AckInteraction or AckEvent) of every envelope acknowledged and the time
	// from its arrival to its acknowledgement.
	ObserveAck func(kind string, d time.Duration)
	// OnConnection, if not nil, is called with true when a connection to
	// Slack opens and with false when it is lost or Run returns.
	OnConnection func(connected bool)
	// ObserveRefused, if not nil, is called with the kind of every envelope
	// refused after its acknowledgement, and why (RefusedReplay, ...).
	ObserveRefused func(kind, reason string)
}

// SocketClient is the Socket Mode transport: it receives Slack's slash
// commands, interactions and events over a WebSocket the bot opens, so that
// the bot needs no public endpoint.
//
// It acknowledges every envelope at once (a slash command with the Handler's
// Reply, a modal's submission with its ViewReply) and calls the Handler for
// other interactions and events afterwards, on their own goroutines. A redelivered envelope or event is acknowledged and
// dropped.
type SocketClient struct {
	api        *slack.Client
	h          Handler
	log        *slog.Logger
	work       *asyncWork
	throttle   *logThrottle
	observeAck func(kind string, d time.Duration)
	connected  func(bool)
}

// NewSocketClient returns a SocketClient that connects with api, which must
// hold an app-level token (slack.OptionAppLevelToken), and passes what it
// receives to h.
func NewSocketClient(api *slack.Client, h Handler, opts SocketOptions) *SocketClient {
	log := transportLogger(opts.Logger, "socket")
	c := &SocketClient{
		api:        api,
		h:          h,
		log:        log,
		work:       newAsyncWork(h, workOptions{maxInFlight: opts.MaxInFlight, refused: opts.ObserveRefused}, log),
		throttle:   newLogThrottle(connectionLogEvery, connectionLogBurst, time.Now),
		observeAck: ackObserver(opts.ObserveAck),
		connected:  opts.OnConnection,
	}
	if c.connected == nil {
		c.connected = func(bool) {}
	}
	return c
}

// Run connects to Slack and handles what arrives until ctx is done, then
// waits for the Handler calls in flight and returns nil. slack-go reconnects
// by itself after a dropped connection; Run returns an error early only if
// Slack refuses the connection for good, for instance because the app token
// is invalid. Run must be called once.
func (c *SocketClient) Run(ctx context.Context) error {
	client := socketmode.New(c.api)
	stopped := make(chan error, 1)
	go func() { stopped <- client.RunContext(ctx) }()
	err := c.receive(ctx, client, stopped)
	c.connected(false)

	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancel()
	if drainErr := c.work.drain(drainCtx); drainErr != nil {
		c.log.Error("stopped before acknowledged Slack work finished", "err", drainErr)
	}
	return err
}

// receive handles the client's events until it stops.
func (c *SocketClient) receive(ctx context.Context, client *socketmode.Client, stopped <-chan error) error {
	for {
		select {
		case evt := <-client.Events:
			c.handle(ctx, client, evt)
		case err := <-stopped:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("running the Socket Mode connection: %w", err)
		}
	}
}

func (c *SocketClient) handle(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	received := time.Now()
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		c.slashCommand(ctx, client, evt)
	case socketmode.EventTypeInteractive:
		cb := evt.Data.(slack.InteractionCallback)
		if cb.Type == slack.InteractionTypeViewSubmission {
			c.viewSubmission(ctx, client, evt.Request.EnvelopeID, cb)
			return
		}
		c.ack(ctx, client, evt.Request.EnvelopeID, nil)
		c.observeAck(AckInteraction, time.Since(received))
		c.work.action(cb, delivery{kind: DeliveryEnvelope, id: evt.Request.EnvelopeID})
	case socketmode.EventTypeEventsAPI:
		c.ack(ctx, client, evt.Request.EnvelopeID, nil)
		c.observeAck(AckEvent, time.Since(received))
		var cb eventCallback
		if err := json.Unmarshal(evt.Request.Payload, &cb); err != nil {
			c.log.Warn("ignored a malformed event", "envelope_id", evt.Request.EnvelopeID, "err", err)
			return
		}
		c.work.event(cb, evt.Request.RetryAttempt, evt.Request.RetryReason, delivery{}) // once per event_id
	case socketmode.EventTypeErrorBadMessage:
		c.badMessage(ctx, client, evt.Data.(*socketmode.ErrorBadMessage))
	default:
		if evt.Request != nil && evt.Request.EnvelopeID != "" {
			c.ack(ctx, client, evt.Request.EnvelopeID, nil)
		}
		c.connectionEvent(evt)
	}
}

// slashCommand acknowledges a slash command with the Handler's Reply.
func (c *SocketClient) slashCommand(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	cmd, id := evt.Data.(slack.SlashCommand), evt.Request.EnvelopeID
	attrs := []any{"envelope_id", id, "channel", cmd.ChannelID, "user", cmd.UserID}
	c.answer(ctx, client, AckCommand, id, attrs, nil, func(ctx context.Context) any {
		return payloadOf(c.work.commandOnce(ctx, delivery{kind: DeliveryEnvelope, id: id}, cmd))
	})
}

// viewSubmission acknowledges a modal's submission with the Handler's
// ViewReply; when there is no room for the work, with a notice saying so,
// which keeps what the user typed from closing away unanswered.
func (c *SocketClient) viewSubmission(ctx context.Context, client *socketmode.Client, id string, cb slack.InteractionCallback) {
	attrs := []any{"envelope_id", id, "user", cb.User.ID, "callback_id", cb.View.CallbackID}
	c.answer(ctx, client, AckInteraction, id, attrs, viewAck(ViewReply{Notice: MsgOverloaded}), func(ctx context.Context) any {
		return payloadOf(c.work.submissionOnce(ctx, delivery{kind: DeliveryEnvelope, id: id}, cb))
	})
}

// answer acknowledges the envelope id, of kind, with the payload reply
// computes, off the receiving goroutine so that other envelopes are not held
// up; with dropped when there is no room for the work.
func (c *SocketClient) answer(ctx context.Context, client *socketmode.Client, kind, id string, attrs []any, dropped any, reply func(context.Context) any) {
	received := time.Now()
	submitted := c.work.submit(kind, attrs, func(ctx context.Context) {
		c.ack(ctx, client, id, reply(ctx))
		c.observeAck(kind, time.Since(received))
	})
	if !submitted {
		c.ack(ctx, client, id, dropped)
		c.observeAck(kind, time.Since(received))
	}
}

// payloadOf returns p as an acknowledgement payload: a nil p as the nil
// interface, which the acknowledgement leaves out, rather than a typed nil,
// which it would send as "payload":null.
func payloadOf[T any](p *T) any {
	if p == nil {
		return nil
	}
	return p
}

// ack acknowledges the envelope id, with payload unless it is nil.
func (c *SocketClient) ack(ctx context.Context, client *socketmode.Client, id string, payload any) {
	ctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	if err := client.AckCtx(ctx, id, payload); err != nil {
		c.log.Error("could not acknowledge an envelope", "envelope_id", id, "err", err)
	}
}

// badMessage acknowledges a message slack-go could not parse, such as an
// envelope of a type it does not know or an event it cannot decode, so that
// Slack does not redeliver it.
func (c *SocketClient) badMessage(ctx context.Context, client *socketmode.Client, bad *socketmode.ErrorBadMessage) {
	var env struct {
		EnvelopeID string `json:"envelope_id"`
		Type       string `json:"type"`
	}
	json.Unmarshal(bad.Message, &env) // not even JSON: nothing to acknowledge
	c.log.Warn("ignored a Socket Mode message", "envelope_id", env.EnvelopeID, "type", env.Type, "err", bad.Cause)
	if env.EnvelopeID != "" {
		c.ack(ctx, client, env.EnvelopeID, nil)
	}
}

// connectionEvent logs the events of the connection's life, throttled per
// kind.
func (c *SocketClient) connectionEvent(evt socketmode.Event) {
	level, attrs := slog.LevelInfo, []any{}
	switch data := evt.Data.(type) {
	case *slack.ConnectingEvent:
		c.connected(false)
		attrs = append(attrs, "attempt", data.Attempt, "connection", data.ConnectionCount)
	case *socketmode.ConnectedEvent:
		c.connected(true)
		attrs = append(attrs, "connection", data.ConnectionCount)
	case *slack.ConnectionErrorEvent:
		c.connected(false)
		level, attrs = slog.LevelWarn, append(attrs, "attempt", data.Attempt, "backoff", data.Backoff, "err", data.ErrorObj)
	case *slack.IncomingEventError:
		level, attrs = slog.LevelWarn, append(attrs, "err", data.ErrorObj)
	case *socketmode.ErrorWriteFailed:
		level, attrs = slog.LevelWarn, append(attrs, "envelope_id", data.Response.EnvelopeID, "err", data.Cause)
	case *slack.InvalidAuthEvent:
		level = slog.LevelError
	}
	if evt.Type == socketmode.EventTypeDisconnect {
		c.connected(false)
	}
	if evt.Type == socketmode.EventTypeHello || evt.Type == socketmode.EventTypeDisconnect {
		attrs = append(attrs, "connections", evt.Request.NumConnections, "reason", evt.Request.Reason)
	}
	allowed, suppressed := c.throttle.allow(string(evt.Type))
	if !allowed {
		return
	}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	c.log.Log(context.Background(), level, "Socket Mode "+string(evt.Type), attrs...)
}

// logThrottle lets log lines through in bursts of at most burst per key,
// refilled at one per interval, and counts the lines it holds back, so that a
// reconnect loop cannot flood the log. It is safe for concurrent use.
type logThrottle struct {
	every time.Duration
	burst int
	now   func() time.Time

	mu   sync.Mutex
	keys map[string]*throttleState
}

type throttleState struct {
	limiter    *rate.Limiter
	suppressed int
}

func newLogThrottle(every time.Duration, burst int, now func() time.Time) *logThrottle {
	return &logThrottle{every: every, burst: burst, now: now, keys: map[string]*throttleState{}}
}

// allow reports whether a line for key may be logged now and, if so, how many
// were held back since the last one that was.
func (t *logThrottle) allow(key string) (allowed bool, suppressed int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.keys[key]
	if k == nil {
		k = &throttleState{limiter: rate.NewLimiter(rate.Every(t.every), t.burst)}
		t.keys[key] = k
	}
	if !k.limiter.AllowN(t.now(), 1) {
		k.suppressed++
		return false, 0
	}
	suppressed, k.suppressed = k.suppressed, 0
	return true, suppressed
}
