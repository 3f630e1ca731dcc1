package diag

import (
	"context"
	"net"
	"time"

	"github.com/cvmlogin/cvmlogin/internal/defaults"
	"github.com/cvmlogin/cvmlogin/internal/pause"
)

// WatchOptions bound a login watch. Zero values take the defaults noted.
type WatchOptions struct {
	// Interval spaces the first probes; after each failed probe the wait
	// grows by half, up to MaxInterval. Default 10s.
	Interval time.Duration
	// MaxInterval caps the wait between probes. Default 30s, and never
	// less than Interval.
	MaxInterval time.Duration
	// Timeout bounds one probe. Default 5s.
	Timeout time.Duration
	// Deadline is how long after its start the watch gives up. Default 10m.
	Deadline time.Duration
	// ServiceEvery is how many failed probes go between two checks of the
	// login service inside the guest; the port answering triggers one too.
	// Default 6: TAT is asked rarely, RunCommand and a few polls each time.
	ServiceEvery int
	// ServiceTimeout bounds one in-guest check. Default 20s.
	ServiceTimeout time.Duration
	// GuestPoll is the first wait before polling an in-guest check's task.
	// Default 300ms.
	GuestPoll time.Duration
	Now       func() time.Time
}

// WatchRequest is one login watch.
type WatchRequest struct {
	// Address is the host:port probed: a public IP and the login port.
	Address string
	// Guest names the guest whose login service is checked through TAT as
	// well; nil when its TAT agent is not online (or guest checks are off).
	Guest *GuestTarget
	// Start is when the watch began; a watch resumed elsewhere passes its
	// original start, so it keeps its deadline. Zero means now.
	Start time.Time
	// Deadline, when set and before Start + WatchOptions.Deadline, ends the
	// watch instead.
	Deadline time.Time
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
	// Waited is how long the watch lasted, from its start.
	Waited time.Duration
	// Service is the last in-guest check of the login service: made when
	// the port answered, or the latest while it did not. Nil when none was
	// made (no online TAT agent, or a watch too short).
	Service *ServiceCheck
}

// Watcher watches a login port until a TCP connect succeeds or the watch's
// deadline passes, checking the login service inside the guest through TAT
// now and then. Its probe is the port.reachable check's, so "reachable"
// means what the report means.
type Watcher struct {
	Dialer  Dialer   // nil: a net.Dialer
	Guest   GuestAPI // nil: the login service is never checked in the guest
	Options WatchOptions
}

// WatchLogin probes req.Address until it answers, the watch's deadline
// passes or ctx ends, waiting longer after each failure. While the port does
// not answer it checks the login service every ServiceEvery probes, and once
// more when the port answers, when req.Guest is set.
func (w *Watcher) WatchLogin(ctx context.Context, req WatchRequest) WatchResult {
	opts := w.Options.withDefaults()
	var d Dialer = &net.Dialer{}
	if w.Dialer != nil {
		d = w.Dialer
	}
	start := req.Start
	if start.IsZero() {
		start = opts.Now()
	}
	deadline := start.Add(opts.Deadline)
	if !req.Deadline.IsZero() && req.Deadline.Before(deadline) {
		deadline = req.Deadline
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var res WatchResult
	for wait := opts.Interval; ; wait = min(wait*3/2, opts.MaxInterval) {
		res.Attempts++
		err := probeOnce(ctx, d, req.Address, opts.Timeout)
		if err == nil {
			res.Reachable, res.Since = true, opts.Now()
			res.Waited = res.Since.Sub(start)
			// The port answered in time: the check may outlast the deadline.
			w.checkService(context.WithoutCancel(ctx), req, opts, &res)
			return res
		}
		if ctx.Err() == nil || res.LastError == "" { // not the watch's own end cutting the probe short
			res.LastError = err.Error()
		}
		if res.Attempts%opts.ServiceEvery == 0 {
			w.checkService(ctx, req, opts, &res)
		}
		if pause.For(ctx, wait) != nil {
			res.Waited = opts.Now().Sub(start)
			return res
		}
	}
}

// checkService records an in-guest check of the login service in res, when
// the watch may make one. A check that fails, or is cut short by the end of
// ctx, leaves a previous check that told.
func (w *Watcher) checkService(ctx context.Context, req WatchRequest, opts WatchOptions, res *WatchResult) {
	if w.Guest == nil || req.Guest == nil {
		return
	}
	check := CheckLoginService(ctx, w.Guest, *req.Guest, opts.ServiceTimeout, opts.GuestPoll)
	told := res.Service != nil && res.Service.Err == ""
	if ctx.Err() == nil && (check.Err == "" || !told) {
		res.Service = &check
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
	o.Interval = defaults.Duration(o.Interval, 10*time.Second)
	o.MaxInterval = max(defaults.Duration(o.MaxInterval, 30*time.Second), o.Interval)
	o.Timeout = defaults.Duration(o.Timeout, 5*time.Second)
	o.Deadline = defaults.Duration(o.Deadline, 10*time.Minute)
	o.ServiceTimeout = defaults.Duration(o.ServiceTimeout, 20*time.Second)
	o.GuestPoll = defaults.Duration(o.GuestPoll, 300*time.Millisecond)
	if o.ServiceEvery <= 0 {
		o.ServiceEvery = 6
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
