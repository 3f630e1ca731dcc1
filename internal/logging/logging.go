// Package logging builds cvmlogin's process logger: a log/slog handler in
// text or JSON whose records carry the diagnosis ID of their context.
//
// Any record logged with a *Context call (logger.DebugContext(ctx, …),
// logger.LogAttrs(ctx, …)) under a context made by diag.WithDiagnosisID gets
// a diag_id attribute, so that every line a diagnosis causes, in the
// pipeline, the cloud adapter or the bot, can be found with one query.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/cvmlogin/cvmlogin/diag"
)

// DiagIDKey is the attribute under which records carry the diagnosis ID.
const DiagIDKey = "diag_id"

// New returns a logger writing to w at level, as JSON lines when format is
// "json" and as logfmt-style text otherwise, with diagnosis IDs added by
// WithDiagnosisID.
func New(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(WithDiagnosisID(h))
}

// WithDiagnosisID returns a handler that passes records to h, adding a
// diag_id attribute from the record's context (see diag.DiagnosisID) unless
// the record or the logger already has one, so that a logger built with
// .With("diag_id", id) does not print it twice. The attribute is added to the
// record, so it lands inside any group opened with WithGroup.
func WithDiagnosisID(h slog.Handler) slog.Handler {
	return &diagIDHandler{next: h}
}

type diagIDHandler struct {
	next  slog.Handler
	hasID bool // a WithAttrs call already added diag_id
}

func (h *diagIDHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *diagIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := diag.DiagnosisID(ctx); id != "" && !h.hasID && !recordHasID(r) {
		r = r.Clone()
		r.AddAttrs(slog.String(DiagIDKey, id))
	}
	return h.next.Handle(ctx, r)
}

func (h *diagIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	hasID := h.hasID
	for _, a := range attrs {
		hasID = hasID || a.Key == DiagIDKey
	}
	return &diagIDHandler{next: h.next.WithAttrs(attrs), hasID: hasID}
}

func (h *diagIDHandler) WithGroup(name string) slog.Handler {
	return &diagIDHandler{next: h.next.WithGroup(name), hasID: h.hasID}
}

// recordHasID reports whether r has a top-level diag_id attribute.
func recordHasID(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == DiagIDKey
		return !found
	})
	return found
}

// Printf adapts a logger to the printf-style hook of libraries such as
// go-redis (redis.SetLogger), so that their messages become structured
// warnings of the process log instead of bare lines on stderr.
type Printf struct{ Logger *slog.Logger }

// Printf logs the formatted message as a warning.
func (p Printf) Printf(ctx context.Context, format string, v ...any) {
	p.Logger.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)))
}
