package diag

import (
	"context"
	"sync"
)

// APICall records one cloud API call for the report's call log.
type APICall struct {
	Service    string `json:"service"`
	Action     string `json:"action"`
	Region     string `json:"region,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	Attempts   int    `json:"attempts"`
	RequestID  string `json:"request_id,omitempty"`
	ErrorCode  string `json:"error_code,omitempty"`
}

// CallLog collects the API calls of one diagnosis. It is safe for concurrent
// use. The zero value is ready to use.
type CallLog struct {
	mu    sync.Mutex
	calls []APICall
}

// Add appends a call.
func (l *CallLog) Add(c APICall) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

// Calls returns a copy of the recorded calls.
func (l *CallLog) Calls() []APICall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]APICall(nil), l.calls...)
}

type callLogKey struct{}

// WithCallLog returns a context whose API calls are recorded into log.
func WithCallLog(ctx context.Context, log *CallLog) context.Context {
	return context.WithValue(ctx, callLogKey{}, log)
}

// RecordCall appends c to the call log carried by ctx, if any. Adapters call
// it once per logical API call (after retries).
func RecordCall(ctx context.Context, c APICall) {
	if log, ok := ctx.Value(callLogKey{}).(*CallLog); ok {
		log.Add(c)
	}
}
