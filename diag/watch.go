package diag

import (
	"context"
	"time"
)

// WatchOptions bound a login watch. Zero values take the defaults noted.
type WatchOptions struct {
	// Interval spaces the probes. Default 10s.
	Interval time.Duration
	// Timeout bounds one probe. Default 5s.
	Timeout time.Duration
	// Deadline is how long the watch goes on before it gives up. Default 10m.
	Deadline time.Duration
	Now      func() time.Time
}

// WatchResult is how a login watch ended.
type WatchResult struct {
	// Reachable is true when a TCP connect to the login port succeeded.
	Reachable bool
	// Since is when it first succeeded.
	Since time.Time
	// Attempts counts the probes made.
	Attempts int
	// LastError is the last probe's failure, when none succeeded.
	LastError string
	// Waited is how long the watch lasted.
	Waited time.Duration
}

// WatchLogin probes address (host:port) with a TCP connect until one
// succeeds, the deadline passes or ctx ends. It makes the same probe as the
// port.reachable check, so "reachable" means what the report means.
func WatchLogin(ctx context.Context, d Dialer, address string, opts WatchOptions) WatchResult {
	opts = opts.withDefaults()
	start := opts.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.Deadline)
	defer cancel()
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	var res WatchResult
	for {
		res.Attempts++
		err := probeOnce(ctx, d, address, opts.Timeout)
		if err == nil {
			res.Reachable, res.Since = true, opts.Now()
			res.Waited = res.Since.Sub(start)
			return res
		}
		res.LastError = err.Error()
		select {
		case <-ctx.Done():
			res.Waited = opts.Now().Sub(start)
			return res
		case <-tick.C:
		}
	}
}

func probeOnce(ctx context.Context, d Dialer, address string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return err
	}
	return conn.Close()
}

func (o WatchOptions) withDefaults() WatchOptions {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Deadline <= 0 {
		o.Deadline = 10 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
