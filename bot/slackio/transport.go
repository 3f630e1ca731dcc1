package slackio

import (
	"context"
	"encoding/json"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/cvmlogin/cvmlogin/internal/defaults"
)

// Handler is the bot as the transports see it: what to do with each verified
// inbound Slack request. Its methods return within milliseconds (they only
// touch the state store and enqueue work) and are safe for concurrent use.
type Handler interface {
	// Command handles a /cvm-login invocation. The reply, if any, is shown
	// only to the invoking user, in the acknowledgement itself.
	Command(ctx context.Context, cmd slack.SlashCommand) Reply
	// Mention handles an app_mention event.
	Mention(ctx context.Context, m Mention)
	// Action handles a block_actions interaction (a button press). Replies
	// go to the user as ephemeral messages through the Web API.
	Action(ctx context.Context, cb slack.InteractionCallback)
	// Submit handles a view_submission interaction (a modal's Submit
	// button). Its ViewReply is the acknowledgement itself, so it must
	// return within Slack's 3 s, like Command.
	Submit(ctx context.Context, cb slack.InteractionCallback) ViewReply
	// FirstSeen reports whether a delivery (kind "event" with an event_id,
	// "envelope" with a Socket Mode envelope_id) is new. false means it is a
	// retry of something already handled and must be dropped.
	FirstSeen(ctx context.Context, kind, id string) (bool, error)
	// Ready reports why the bot cannot work, or nil (state store reachable,
	// Slack credentials accepted).
	Ready(ctx context.Context) error
	// Refuse tells the user behind a verified request the transport turned
	// away (it could not rule out a replay, or was overloaded) that nothing
	// was done. It answers under its own deadline: ctx may be spent.
	Refuse(ctx context.Context, r Refusal)
}

// Refusal is what the transport refused and where to say so.
type Refusal struct {
	Channel     string
	User        string
	ThreadTS    string // "" outside a thread
	ResponseURL string // "" when the request carried none
	Text        string
}

// Delivery kinds passed to Handler.FirstSeen besides "event": a verified
// HTTP request's signature, and a Socket Mode envelope.
const (
	DeliverySignature = "signature"
	DeliveryEnvelope  = "envelope"
)

// maxPressActions bounds the actions of one block_actions payload: Slack
// sends one per click, so a payload with more was not made by a click and is
// refused whole, without a Slack call.
const maxPressActions = 1

// The reasons a request is refused, passed to ObserveRefused.
const (
	RefusedUnverified     = "unverified"       // bad, missing or stale signature
	RefusedTooLarge       = "too_large"        // body over the limit
	RefusedMalformed      = "malformed"        // verified, but not a payload we parse
	RefusedReplay         = "replay"           // the same request was seen before
	RefusedUnchecked      = "replay_unchecked" // the replay cache did not answer
	RefusedTooManyActions = "too_many_actions" // a payload no click makes
	RefusedOverloaded     = "overloaded"       // too much work in flight, or shutting down
)

// Messages for refused requests.
const (
	msgReplayUnchecked = ":warning: cvmlogin's state store (Redis) is unavailable, so I can't tell this request from a replay and did nothing. Try again in a minute; if it persists, tell whoever runs the bot."
	// MsgOverloaded answers what the bot is too busy to take on.
	MsgOverloaded = ":hourglass: cvmlogin is too busy to take this on right now and did nothing. Try again in a minute."
)

// Reply is an immediate answer to a slash command, shown only to the user
// who typed it. The zero Reply acknowledges without a message.
type Reply struct {
	Text string // mrkdwn
}

// ViewReply is the answer to a view_submission, sent as its
// acknowledgement. The zero ViewReply closes the modal.
type ViewReply struct {
	// Errors, keyed by the block_id of an input block, keep the modal open
	// with each message under its input. Slack ignores keys that name no
	// input block and shows a generic error instead.
	Errors map[string]string
	// Notice, when Errors is empty, replaces the modal with one that shows
	// this mrkdwn text and a Close button.
	Notice string
}

// Mention is an app_mention event, reduced to what the bot uses.
type Mention struct {
	EventID  string
	Channel  string
	User     string
	Text     string // includes the <@BOT> mention
	TS       string // the mentioning message
	ThreadTS string // the thread it was posted in, "" at top level
}

// What follows is shared by the HTTP and Socket Mode transports.

func transportLogger(l *slog.Logger, transport string) *slog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return l.With("component", "slack-transport", "transport", transport)
}

// ephemeralAck is the acknowledgement of a slash command that carries a reply
// for the invoking user only.
type ephemeralAck struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

// commandOnce passes cmd, delivered as d, to the Handler within Slack's
// acknowledgement deadline and returns the acknowledgement payload: the
// Reply, or nil for an empty one (see answerOnce).
func (w *asyncWork) commandOnce(ctx context.Context, d delivery, cmd slack.SlashCommand) *ephemeralAck {
	refusal := &ephemeralAck{ResponseType: slack.ResponseTypeEphemeral, Text: msgReplayUnchecked}
	return answerOnce(ctx, w, AckCommand, d, refusal, func(ctx context.Context) *ephemeralAck {
		reply := w.h.Command(ctx, cmd)
		if reply.Text == "" {
			return nil
		}
		return &ephemeralAck{ResponseType: slack.ResponseTypeEphemeral, Text: reply.Text}
	})
}

// answerOnce returns answer's acknowledgement payload for the request d, of
// kind, computed within Slack's acknowledgement deadline: nil for a replay
// of d, and refusal when the replay cache cannot tell, since the Handler
// would then start work twice.
func answerOnce[T any](ctx context.Context, w *asyncWork, kind string, d delivery, refusal *T, answer func(context.Context) *T) *T {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	switch w.checkReplay(ctx, kind, d) {
	case replaySeen:
		return nil
	case replayUnchecked:
		w.refused(kind, RefusedUnchecked)
		return refusal
	}
	return answer(ctx)
}

// eventCallback is the outer Events API payload, the same over HTTP and
// Socket Mode, reduced to what the transports read.
type eventCallback struct {
	Type      string          `json:"type"`
	Challenge string          `json:"challenge"` // url_verification only
	EventID   string          `json:"event_id"`
	Event     json.RawMessage `json:"event"`
}

// mentionFrom returns the Mention an event_callback carries, or false if its
// inner event is not an app_mention by a person: events posted by bots, and
// message subtypes such as edits, are ignored.
func mentionFrom(cb eventCallback) (Mention, bool) {
	var e struct {
		Type     string `json:"type"`
		Subtype  string `json:"subtype"`
		BotID    string `json:"bot_id"`
		User     string `json:"user"`
		Channel  string `json:"channel"`
		Text     string `json:"text"`
		TS       string `json:"ts"`
		ThreadTS string `json:"thread_ts"`
	}
	if json.Unmarshal(cb.Event, &e) != nil || e.Type != string(slackevents.AppMention) || e.BotID != "" || e.Subtype != "" {
		return Mention{}, false
	}
	return Mention{EventID: cb.EventID, Channel: e.Channel, User: e.User, Text: e.Text, TS: e.TS, ThreadTS: e.ThreadTS}, true
}

// asyncWork runs the Handler calls that follow an acknowledgement, each on
// its own goroutine under its own deadline, at most a fixed number at once,
// and lets the transport wait for them when it stops. It never blocks the
// caller: work beyond the limit, or submitted after drain, is dropped and
// logged as an error; a dropped press or mention is still answered.
type asyncWork struct {
	h       Handler
	log     *slog.Logger
	slots   chan struct{}
	timeout time.Duration
	refused func(kind, reason string)
	base    context.Context // parent of every call's context; cancelled by drain
	cancel  context.CancelFunc

	mu      sync.Mutex // guards closing against wg.Add
	closing bool
	wg      sync.WaitGroup
}

// workOptions are what asyncWork takes from the transport's options.
type workOptions struct {
	maxInFlight int
	timeout     time.Duration // of each call; 0 means asyncTimeout
	refused     func(kind, reason string)
}

func newAsyncWork(h Handler, o workOptions, log *slog.Logger) *asyncWork {
	if o.maxInFlight <= 0 {
		o.maxInFlight = DefaultMaxInFlight
	}
	if o.refused == nil {
		o.refused = func(string, string) {}
	}
	base, cancel := context.WithCancel(context.Background())
	return &asyncWork{h: h, log: log, slots: make(chan struct{}, o.maxInFlight), timeout: defaults.Duration(o.timeout, asyncTimeout),
		refused: o.refused, base: base, cancel: cancel}
}

// submit runs call on a new goroutine if a slot is free, and reports whether
// it did. what and attrs describe the work in logs.
func (w *asyncWork) submit(what string, attrs []any, call func(ctx context.Context)) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		w.log.Error("dropped Slack work: shutting down", append(attrs, "work", what)...)
		return false
	}
	select {
	case w.slots <- struct{}{}:
	default:
		w.log.Error("dropped Slack work: too much in flight", append(attrs, "work", what, "max_in_flight", cap(w.slots))...)
		return false
	}
	w.wg.Go(func() {
		defer func() { <-w.slots }()
		defer w.recoverPanic(what, attrs)
		ctx, cancel := context.WithTimeout(w.base, w.timeout)
		defer cancel()
		call(ctx)
	})
	return true
}

// refuse counts the refusal of a request of kind for reason, and has the
// Handler tell r's user text.
func (w *asyncWork) refuse(ctx context.Context, kind, reason string, r Refusal, text string) {
	w.refused(kind, reason)
	if r.User == "" {
		return
	}
	r.Text = text
	w.h.Refuse(ctx, r)
}

// refuseDropped answers a request of kind that submit dropped, on a
// goroutine of its own: only the answer is sent, and Refuse bounds itself,
// so it runs even when there is no slot for work.
func (w *asyncWork) refuseDropped(kind string, r Refusal) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		w.refused(kind, RefusedOverloaded)
		return
	}
	w.wg.Go(func() {
		defer w.recoverPanic("refusal", []any{"user", r.User, "channel", r.Channel})
		w.refuse(w.base, kind, RefusedOverloaded, r, MsgOverloaded)
	})
}

// recoverPanic keeps a panicking Handler call from taking the process, and
// the other requests in flight, down with it.
func (w *asyncWork) recoverPanic(what string, attrs []any) {
	if v := recover(); v != nil {
		w.log.Error("Slack work panicked", append(attrs, "work", what, "panic", v, "stack", string(debug.Stack()))...)
	}
}

// drain refuses new work and waits for the running calls. If ctx ends first
// it cancels their contexts and returns ctx's error.
func (w *asyncWork) drain(ctx context.Context) error {
	w.mu.Lock()
	w.closing = true
	w.mu.Unlock()
	defer w.cancel()
	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// delivery names one inbound request for replay detection: kind is
// DeliverySignature or DeliveryEnvelope, id its signature or envelope_id.
// The zero delivery is not checked.
type delivery struct{ kind, id string }

// PressRefusal is where to answer the user behind a press.
func PressRefusal(cb slack.InteractionCallback) Refusal {
	return Refusal{Channel: cb.Channel.ID, User: cb.User.ID, ThreadTS: cb.Message.ThreadTimestamp, ResponseURL: cb.ResponseURL}
}

// action passes a block_actions interaction to the Handler once; other
// interaction types, and payloads no click makes, are ignored.
func (w *asyncWork) action(cb slack.InteractionCallback, d delivery) {
	if cb.Type != slack.InteractionTypeBlockActions {
		w.log.Info("ignored an interaction", "type", cb.Type)
		return
	}
	attrs := []any{"user", cb.User.ID, "channel", cb.Channel.ID}
	if n := len(cb.ActionCallback.BlockActions); n == 0 || n > maxPressActions {
		w.log.Warn("refused a block_actions payload no click makes", append(attrs, "actions", n)...)
		w.refused(AckInteraction, RefusedTooManyActions)
		return
	}
	r := PressRefusal(cb)
	submitted := w.submit("block_actions", attrs, func(ctx context.Context) {
		if w.admit(ctx, AckInteraction, d, r) {
			w.h.Action(ctx, cb)
		}
	})
	if !submitted {
		w.refuseDropped(AckInteraction, r)
	}
}

// event passes the app mention an event callback carries to the Handler,
// once per request and once per event_id. retry and reason are Slack's
// redelivery count and reason, if any.
func (w *asyncWork) event(cb eventCallback, retry int, reason string, d delivery) {
	attrs := []any{"event_id", cb.EventID}
	if retry > 0 {
		w.log.Info("Slack redelivered an event", append(attrs, "retry", retry, "retry_reason", reason)...)
	}
	m, ok := mentionFrom(cb)
	if !ok {
		return
	}
	thread := m.ThreadTS
	if thread == "" {
		thread = m.TS
	}
	r := Refusal{Channel: m.Channel, User: m.User, ThreadTS: thread}
	submitted := w.submit("app_mention", append(attrs, "channel", m.Channel, "user", m.User), func(ctx context.Context) {
		if w.admit(ctx, AckEvent, d, r) && w.firstSeen(ctx, "event", cb.EventID) {
			w.h.Mention(ctx, m)
		}
	})
	if !submitted {
		w.refuseDropped(AckEvent, r)
	}
}

// admit reports whether the request d, of kind (AckCommand, AckInteraction
// or AckEvent), is seen for the first time. A replay is dropped silently (the
// original was answered) and counted. When the Handler cannot tell, the
// request is refused and r told so: it fails closed, because a replayed fix
// press must never post a second approval request, and every press needs the
// state store anyway.
func (w *asyncWork) admit(ctx context.Context, kind string, d delivery, r Refusal) bool {
	switch w.checkReplay(ctx, kind, d) {
	case replayUnchecked:
		w.refuse(ctx, kind, RefusedUnchecked, r, msgReplayUnchecked)
		return false
	case replaySeen:
		return false
	}
	return true
}

// replayVerdict is what the replay cache says of a request.
type replayVerdict int

const (
	replayNew replayVerdict = iota
	replaySeen
	replayUnchecked
)

// checkReplay asks the Handler whether d is new, logs what is not, and
// counts a replay.
func (w *asyncWork) checkReplay(ctx context.Context, kind string, d delivery) replayVerdict {
	if d.id == "" {
		return replayNew
	}
	first, err := w.h.FirstSeen(ctx, d.kind, d.id)
	switch {
	case err != nil:
		w.log.Error("could not check a request for a replay; refusing it", "kind", kind, "delivery", d.kind, "err", err)
		return replayUnchecked
	case !first:
		w.log.Warn("dropped a replayed request", "kind", kind, "delivery", d.kind, "id", d.id)
		w.refused(kind, RefusedReplay)
		return replaySeen
	}
	return replayNew
}

// firstSeen reports whether the delivery kind/id is new, according to the
// Handler. If the Handler cannot tell, the delivery is treated as new and the
// error logged: a mention handled twice does less harm than one silently
// lost, and the Handler guards every side effect itself.
func (w *asyncWork) firstSeen(ctx context.Context, kind, id string) bool {
	first, err := w.h.FirstSeen(ctx, kind, id)
	switch {
	case err != nil:
		w.log.Error("could not tell a redelivery from a new one; handling it", "kind", kind, "id", id, "err", err)
		return true
	case !first:
		w.log.Info("dropped a redelivery", "kind", kind, "id", id)
	}
	return first
}

// The kinds of request whose acknowledgement the transports time, passed to
// HTTPOptions.ObserveAck and SocketOptions.ObserveAck.
const (
	AckCommand     = "command"     // a slash command
	AckInteraction = "interaction" // a button press or other interaction
	AckEvent       = "event"       // an Events API request
)

// ackObserver returns observe, or a function doing nothing if it is nil.
func ackObserver(observe func(kind string, d time.Duration)) func(kind string, d time.Duration) {
	if observe == nil {
		return func(string, time.Duration) {}
	}
	return observe
}
