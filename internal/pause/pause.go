// Package pause waits for a while unless a context ends first: the one
// sleep every retry and pacing loop uses.
package pause

import (
	"context"
	"time"
)

// For waits d, or until ctx is done, and returns ctx's error then. A d of
// zero or less returns at once (with ctx's error, if it is already done).
func For(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
