package bot

import (
	"context"
	"encoding/json"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
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
	// FirstSeen reports whether a delivery (kind "event" with an event_id,
	// "envelope" with a Socket Mode envelope_id) is new. false means it is a
	// retry of something already handled and must be dropped.
	FirstSeen(ctx context.Context, kind, id string) (bool, error)
	// Ready reports why the bot cannot work, or nil (state store reachable,
	// Slack credentials accepted).
	Ready(ctx context.Context) error
}

// Reply is an immediate answer to a slash command, shown only to the user
// who typed it. The zero Reply acknowledges without a message.
type Reply struct {
	Text string // mrkdwn
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

// commandAck passes cmd to h within Slack's acknowledgement deadline and
// returns the acknowledgement payload: the Reply, or nil for an empty one.
func commandAck(ctx context.Context, h Handler, cmd slack.SlashCommand) *ephemeralAck {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	reply := h.Command(ctx, cmd)
	if reply.Text == "" {
		return nil
	}
	return &ephemeralAck{ResponseType: slack.ResponseTypeEphemeral, Text: reply.Text}
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
// logged as an error.
type asyncWork struct {
	h      Handler
	log    *slog.Logger
	slots  chan struct{}
	base   context.Context // parent of every call's context; cancelled by drain
	cancel context.CancelFunc

	mu      sync.Mutex // guards closing against wg.Add
	closing bool
	wg      sync.WaitGroup
}

func newAsyncWork(h Handler, maxInFlight int, log *slog.Logger) *asyncWork {
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	base, cancel := context.WithCancel(context.Background())
	return &asyncWork{h: h, log: log, slots: make(chan struct{}, maxInFlight), base: base, cancel: cancel}
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
		ctx, cancel := context.WithTimeout(w.base, asyncTimeout)
		defer cancel()
		call(ctx)
	})
	return true
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

// action passes a block_actions interaction to the Handler; other
// interaction types are ignored.
func (w *asyncWork) action(cb slack.InteractionCallback) {
	if cb.Type != slack.InteractionTypeBlockActions {
		w.log.Info("ignored an interaction", "type", cb.Type)
		return
	}
	attrs := []any{"user", cb.User.ID, "channel", cb.Channel.ID}
	w.submit("block_actions", attrs, func(ctx context.Context) { w.h.Action(ctx, cb) })
}

// event passes the app mention an event callback carries to the Handler,
// once per event_id. retry and reason are Slack's redelivery count and
// reason, if any.
func (w *asyncWork) event(cb eventCallback, retry int, reason string) {
	attrs := []any{"event_id", cb.EventID}
	if retry > 0 {
		w.log.Info("Slack redelivered an event", append(attrs, "retry", retry, "retry_reason", reason)...)
	}
	m, ok := mentionFrom(cb)
	if !ok {
		return
	}
	w.submit("app_mention", append(attrs, "channel", m.Channel, "user", m.User), func(ctx context.Context) {
		if w.firstSeen(ctx, "event", cb.EventID) {
			w.h.Mention(ctx, m)
		}
	})
}

// firstSeen reports whether the delivery kind/id is new, according to the
// Handler. If the Handler cannot tell, the delivery is treated as new and the
// error logged: a command or mention handled twice does less harm than one
// silently lost, and the Handler guards every side effect itself.
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
