package slackio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// DefaultMaxInFlight bounds the asynchronous Handler calls a transport runs
// at once when its options set no positive limit.
const DefaultMaxInFlight = 64

// Deadlines of the Handler calls the transports make: a slash command or a
// modal's submission must be answered within Slack's 3 s, leaving room for
// the network; the calls
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
	// ObserveRefused, if not nil, is called with the kind of every request
	// to a Slack route that was refused, and why (RefusedUnverified,
	// RefusedReplay, ...).
	ObserveRefused func(kind, reason string)
	// Routes, if not nil, adds routes that are not Slack's, served in either
	// mode (the alarm endpoints).
	Routes func(mux *http.ServeMux)
	// AsyncTimeout bounds each Handler call made after an acknowledgement;
	// default 10s. Answers to the user have deadlines of their own.
	AsyncTimeout time.Duration
}

// HTTPServer is the HTTP transport: it receives Slack's slash commands,
// interactions and Events API requests (HTTP mode), and answers health,
// readiness and metrics probes (both modes).
//
// Every Slack request is verified before anything parses it, and answered
// within Slack's 3 s: a slash command with the Handler's Reply, a modal's
// submission with its ViewReply, anything else at once, with the Handler
// called afterwards on its own goroutine.
//
// A verified request is handled once: its signature goes through the
// Handler's FirstSeen (kind DeliverySignature), and a replay within the
// verification window is answered 200 and dropped. If FirstSeen fails, the
// request is refused with an answer to its user (fail closed), never handled
// on the chance that it is new.
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
	if opts.ObserveRefused == nil {
		opts.ObserveRefused = func(string, string) {}
	}
	work := newAsyncWork(h, workOptions{maxInFlight: opts.MaxInFlight, timeout: opts.AsyncTimeout, refused: opts.ObserveRefused}, log)
	s := &HTTPServer{h: h, opts: opts, log: log, work: work}
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
	if s.opts.Routes != nil {
		s.opts.Routes(mux)
	}
	if s.opts.SlackRoutes {
		mux.Handle("POST /slack/commands", s.timedAck(AckCommand, s.verified(AckCommand, s.serveCommand)))
		mux.Handle("POST /slack/interactions", s.timedAck(AckInteraction, s.verified(AckInteraction, s.serveInteraction)))
		mux.Handle("POST /slack/events", s.timedAck(AckEvent, s.verified(AckEvent, s.serveEvent)))
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

// verifiedRequest is a request whose signature was verified: its raw body,
// and its delivery for the replay cache.
type verifiedRequest struct {
	body     []byte
	delivery delivery
}

// verified runs next only for a request of kind whose raw body, read within
// MaxBody, carries a valid Slack signature. Any other request is answered 401
// (413 if too large) with a short reason, counted, and logged without its
// body or headers.
func (s *HTTPServer) verified(kind string, next func(http.ResponseWriter, *http.Request, verifiedRequest)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := ReadVerified(r, s.opts.Verifier, s.opts.MaxBody)
		if err != nil {
			status, reason := http.StatusUnauthorized, RefusedUnverified
			if errors.Is(err, ErrBodyTooLarge) {
				status, reason = http.StatusRequestEntityTooLarge, RefusedTooLarge
			}
			s.log.Warn("rejected a Slack request", "path", r.URL.Path, "remote_addr", r.RemoteAddr, "status", status, "reason", err)
			s.opts.ObserveRefused(kind, reason)
			http.Error(w, err.Error(), status)
			return
		}
		next(w, r, verifiedRequest{body: body, delivery: delivery{kind: DeliverySignature, id: replayKey(r.Header)}})
	})
}

// serveCommand answers a slash command with the Handler's Reply, once: a
// replay is answered 200 without a message and does nothing.
func (s *HTTPServer) serveCommand(w http.ResponseWriter, r *http.Request, v verifiedRequest) {
	cmd, err := slack.SlashCommandParse(r) // reads the verified body ReadVerified put back
	if err != nil {
		s.badRequest(w, r, AckCommand, "malformed slash command", err)
		return
	}
	if r.PostForm.Get("ssl_check") == "1" {
		return
	}
	if ack := s.work.commandOnce(r.Context(), v.delivery, cmd); ack != nil {
		writeJSON(w, ack)
	}
}

// writeJSON answers with v, an acknowledgement payload, as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// serveInteraction answers a modal's submission with the Handler's
// ViewReply, once; it acknowledges any other interaction at once, then
// passes a button press to the Handler.
func (s *HTTPServer) serveInteraction(w http.ResponseWriter, r *http.Request, v verifiedRequest) {
	cb, err := slack.InteractionCallbackParse(r) // the verified body only, never the query
	if err != nil {
		s.badRequest(w, r, AckInteraction, "malformed interaction payload", err)
		return
	}
	if cb.Type != slack.InteractionTypeViewSubmission {
		s.work.action(cb, v.delivery)
		return
	}
	if ack := s.work.submissionOnce(r.Context(), v.delivery, cb); ack != nil {
		writeJSON(w, ack)
	}
}

// serveEvent answers Slack's URL verification, and acknowledges an event
// callback before passing an app mention to the Handler.
func (s *HTTPServer) serveEvent(w http.ResponseWriter, r *http.Request, v verifiedRequest) {
	var cb eventCallback
	if err := json.Unmarshal(v.body, &cb); err != nil {
		s.badRequest(w, r, AckEvent, "malformed event", err)
		return
	}
	switch cb.Type {
	case slackevents.URLVerification:
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, cb.Challenge)
	case slackevents.CallbackEvent:
		retry, _ := strconv.Atoi(r.Header.Get(headerRetryNum))
		s.work.event(cb, retry, r.Header.Get(headerRetryReason), v.delivery)
	default:
		s.log.Info("ignored an Events API request", "type", cb.Type)
	}
}

func (s *HTTPServer) badRequest(w http.ResponseWriter, r *http.Request, kind, reason string, err error) {
	s.log.Warn("rejected a verified Slack request", "path", r.URL.Path, "remote_addr", r.RemoteAddr, "reason", reason, "err", err)
	s.opts.ObserveRefused(kind, RefusedMalformed)
	http.Error(w, reason, http.StatusBadRequest)
}
