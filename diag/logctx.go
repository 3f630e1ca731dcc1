package diag

import "context"

type diagnosisIDKey struct{}

// WithDiagnosisID returns a context that carries id, the diagnosis (or
// conversation) ID that log lines emitted under it are tagged with. Loggers
// see it only through the *Context logging calls, such as
// logger.DebugContext(ctx, …), and a handler that reads it with DiagnosisID.
func WithDiagnosisID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, diagnosisIDKey{}, id)
}

// DiagnosisID returns the diagnosis ID carried by ctx, or "" if there is none.
func DiagnosisID(ctx context.Context) string {
	id, _ := ctx.Value(diagnosisIDKey{}).(string)
	return id
}
