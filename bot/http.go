package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// DefaultMaxInFlight bounds the asynchronous Handler calls a transport runs
// at once when its options set no positive limit.
const DefaultMaxInFlight = 64

// Deadlines of the Handler calls the transports make: a slash command must
// be answered within Slack's 3 s, leaving room for the network; the calls
// after an acknowledgement (Action, Mention and their FirstSeen) only enqueue
// work; a readiness probe must answer before the prober gives up.
const (
	commandTimeout = 2500 * time.Millisecond
	asyncTimeout   = 10 * time.Second
	readyTimeout   = 2 * time.Second
)

// headerRetryNum and headerRetryReason mark Slack's redeliveries of an event.
const (
	headerRetryNum    = "X-Slack-Retry-Num"
	headerRetryReason = "X-Slack-Retry-Reason"
)

// HTTPOptions configure an HTTPServer. Zero values take the defaults noted.
type HTTPOptions struct {
	// Verifier checks the signature of every request to a Slack route. Its
	// zero value rejects them all.
	Verifier Verifier
	// SlackRoutes serves POST /slack/commands, /slack/interactions and
	// /slack/events. In Socket Mode it is false and the server answers only
	// health and metrics.
	SlackRoutes bool
	// Metrics serves GET /metrics; nil answers 404.
	Metrics http.Handler
	// MaxBody bounds the body of a Slack request; default DefaultMaxBody.
	MaxBody int64
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// MaxInFlight bounds the Handler calls running after their requests were
	// acknowledged; default DefaultMaxInFlight.
	MaxInFlight int
	// ObserveAck, if not nil, is called with the kind (AckCommand,
	// AckInteraction or AckEvent) of every request to a Slack route and the
	// time taken to answer it, signature check included.
	ObserveAck func(kind string, d time.Duration)
}

// HTTPServer is the HTTP transport: it receives Slack's slash commands,
// interactions and Events API requests (HTTP mode), and answers health,
// readiness and metrics probes (both modes).
//
// Every Slack request is verified before anything parses it, and answered
// within Slack's 3 s: a slash command with the Handler's Reply, anything else
// at once, with the Handler called afterwards on its own goroutine.
type HTTPServer struct {
	h    Handler
	opts HTTPOptions
	log  *slog.Logger
	work *asyncWork
	mux  *http.ServeMux
	srv  *http.Server
}

// NewHTTPServer returns an HTTPServer that passes verified requests to h.
func NewHTTPServer(h Handler, opts HTTPOptions) *HTTPServer {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	log := transportLogger(opts.Logger, "http")
	s := &HTTPServer{h: h, opts: opts, log: log, work: newAsyncWork(h, opts.MaxInFlight, log)}
	s.mux = s.routes()
	s.srv = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler returns the server's routes, for mounting elsewhere or for tests.
func (s *HTTPServer) Handler() http.Handler { return s.mux }

// Serve accepts connections on ln until Shutdown. Like http.Server.Serve, it
// always returns a non-nil error: http.ErrServerClosed after Shutdown.
func (s *HTTPServer) Serve(ln net.Listener) error {
	return s.srv.Serve(ln)
}

// Shutdown stops accepting connections, waits for the requests in progress,
// then for the Handler calls still running after their acknowledgement. If
// ctx ends first, it cancels those calls' contexts and returns the context's
// error.
func (s *HTTPServer) Shutdown(ctx context.Context) error {
	serveErr := s.srv.Shutdown(ctx)
	drainErr := s.work.drain(ctx)
	if serveErr != nil {
		return fmt.Errorf("shutting down the HTTP server: %w", serveErr)
	}
	if drainErr != nil {
		return fmt.Errorf("waiting for acknowledged Slack work: %w", drainErr)
	}
	return nil
}

func (s *HTTPServer) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("GET /readyz", s.serveReady)
	metrics := s.opts.Metrics
	if metrics == nil {
		metrics = http.NotFoundHandler()
	}
	mux.Handle("GET /metrics", metrics)
	if s.opts.SlackRoutes {
		mux.Handle("POST /slack/commands", s.timedAck(AckCommand, s.verified(s.serveCommand)))
		mux.Handle("POST /slack/interactions", s.timedAck(AckInteraction, s.verified(s.serveInteraction)))
		mux.Handle("POST /slack/events", s.timedAck(AckEvent, s.verified(s.serveEvent)))
	}
	return mux
}

// timedAck passes the time next takes to answer a request of kind, that is
// to acknowledge it to Slack, to ObserveAck.
func (s *HTTPServer) timedAck(kind string, next http.Handler) http.Handler {
	observe := ackObserver(s.opts.ObserveAck)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		observe(kind, time.Since(start))
	})
}

func (s *HTTPServer) serveReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.h.Ready(ctx); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok")
}

// verified runs next only for a request whose raw body, read within MaxBody,
// carries a valid Slack signature. Any other request is answered 401 (413 if
// too large) with a short reason, and logged without its body or headers.
func (s *HTTPServer) verified(next func(http.ResponseWriter, *http.Request, []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := ReadVerified(r, s.opts.Verifier, s.opts.MaxBody)
		if err != nil {
			status := http.StatusUnauthorized
			if errors.Is(err, ErrBodyTooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			s.log.Warn("rejected a Slack request", "path", r.URL.Path, "remote_addr", r.RemoteAddr, "status", status, "reason", err)
			http.Error(w, err.Error(), status)
			return
		}
		next(w, r, body)
	})
}

// serveCommand answers a slash command with the Handler's Reply.
func (s *HTTPServer) serveCommand(w http.ResponseWriter, r *http.Request, _ []byte) {
	cmd, err := slack.SlashCommandParse(r) // reads the verified body ReadVerified put back
	if err != nil {
		s.badRequest(w, r, "malformed slash command", err)
		return
	}
	if r.PostForm.Get("ssl_check") == "1" {
		return
	}
	ack := commandAck(r.Context(), s.h, cmd)
	if ack == nil {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ack)
}

// serveInteraction acknowledges an interaction, then passes a button press to
// the Handler.
func (s *HTTPServer) serveInteraction(w http.ResponseWriter, r *http.Request, _ []byte) {
	cb, err := slack.InteractionCallbackParse(r) // the verified body only, never the query
	if err != nil {
		s.badRequest(w, r, "malformed interaction payload", err)
		return
	}
	s.work.action(cb)
}

// serveEvent answers Slack's URL verification, and acknowledges an event
// callback before passing an app mention to the Handler.
func (s *HTTPServer) serveEvent(w http.ResponseWriter, r *http.Request, body []byte) {
	var cb eventCallback
	if err := json.Unmarshal(body, &cb); err != nil {
		s.badRequest(w, r, "malformed event", err)
		return
	}
	switch cb.Type {
	case slackevents.URLVerification:
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, cb.Challenge)
	case slackevents.CallbackEvent:
		retry, _ := strconv.Atoi(r.Header.Get(headerRetryNum))
		s.work.event(cb, retry, r.Header.Get(headerRetryReason))
	default:
		s.log.Info("ignored an Events API request", "type", cb.Type)
	}
}

func (s *HTTPServer) badRequest(w http.ResponseWriter, r *http.Request, reason string, err error) {
	s.log.Warn("rejected a verified Slack request", "path", r.URL.Path, "remote_addr", r.RemoteAddr, "reason", reason, "err", err)
	http.Error(w, reason, http.StatusBadRequest)
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
