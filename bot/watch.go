package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
)

// ActionWatchLogin watches the login port until it answers (design.md B7).
const ActionWatchLogin = "watch_login"

// labelWatchLogin is the watch button's label.
const labelWatchLogin = "Tell me when login works"

// LoginWatcher probes a login address until a TCP connect succeeds or the
// watch's deadline passes, checking the login service inside the guest now
// and then when the request names the guest. *diag.Watcher is one.
type LoginWatcher interface {
	WatchLogin(ctx context.Context, req diag.WatchRequest) diag.WatchResult
}

// watchTimeout bounds one watch, wherever it runs, whatever the watcher's
// own deadline.
const watchTimeout = 15 * time.Minute

// watchLease is how long an instance stays claimed for its watch without a
// renewal. A watch whose replica dies is taken over by another one (after
// the job queue's ClaimIdle, 30s) well within it, and renews it there.
const watchLease = 2 * time.Minute

// watchKey names an instance's watch claim: one watch per instance at a time.
func watchKey(instanceID string) string { return "watch/" + instanceID }

// watchLogin starts watching the report's instance for whoever pressed.
func (b *Bot) watchLogin(ctx context.Context, p press) {
	text, err := b.startWatch(ctx, p.conv, p.user)
	if err != nil {
		b.log.ErrorContext(ctx, "starting a login watch", "diag_id", p.conv.ID, "err", err)
	}
	b.reply(ctx, p, text)
}

// startWatch starts watching the login port of c's latest report, once per
// instance at a time: it stores the watch and queues its job, which any
// replica runs (runWatch), and whichever replica the watch ends on posts one
// line in the thread for user. It returns what to tell user.
func (b *Bot) startWatch(ctx context.Context, c conversations.Conversation, user string) (string, error) {
	if b.opts.Watch == nil {
		return "Watching the login port is not available in this deployment.", nil
	}
	report, err := b.store.Report(ctx, c.ID)
	if err != nil {
		return storeTrouble(err), err
	}
	w, ok := newWatch(c, report, user, time.Now())
	if !ok {
		return "There is no public IP and login port to watch in this report.", nil
	}
	if _, acquired, err := b.store.AcquireRun(ctx, watchKey(w.InstanceID), w.ID, watchLease); err != nil {
		return storeTrouble(err), err
	} else if !acquired {
		return "I am already watching " + escapeMrkdwn(w.InstanceID) + "; the thread will say when login works.", nil
	}
	if err := b.store.StartWatch(ctx, w); err != nil {
		b.releaseWatch(w)
		return storeTrouble(err), err
	}
	if w.GuestCheck {
		return fmt.Sprintf("Watching TCP %d of %s, and its login service through TAT; the thread will say when login works.", w.Port, escapeMrkdwn(w.InstanceID)), nil
	}
	return fmt.Sprintf("Watching TCP %d of %s; the thread will say when it answers.", w.Port, escapeMrkdwn(w.InstanceID)), nil
}

// newWatch is the watch of report's login address for user, starting at
// now; ok is false when the report has no public IP and login port.
func newWatch(c conversations.Conversation, report *diag.Report, user string, now time.Time) (w conversations.Watch, ok bool) {
	address, ok := loginAddress(report)
	if !ok {
		return w, false
	}
	agent, _ := report.Finding(diag.CheckGuestAgent)
	inst := report.Instance
	return conversations.Watch{ID: conversations.NewID(), ConversationID: c.ID, InstanceID: inst.ID, Region: report.Region, OS: inst.OS,
		Address: address, Port: inst.LoginPort, GuestCheck: agent.Status == diag.StatusOK, User: user,
		StartedAt: now, Deadline: now.Add(watchTimeout)}, true
}

// runWatch runs the watch job j from its record, where it stands: with its
// original start and deadline, on whichever replica took the job. The watch
// goes on after runWatch returns, without holding a worker; the job stays
// pending until the watch ends or is handed over, so that if this replica
// dies another one resumes it.
func (b *Bot) runWatch(ctx context.Context, j conversations.Job) error {
	if ctx.Err() != nil {
		// This replica is stopping (its last read took the job): pass the
		// watch straight on rather than leave it pending until ClaimIdle.
		if err := b.handOverWatch(ctx, j); err != nil {
			return ctx.Err()
		}
		return nil
	}
	var w conversations.Watch
	err := b.retryStore(ctx, "reading a login watch", func(ctx context.Context) error {
		var err error
		w, err = b.store.Watch(ctx, j.ID)
		return err
	})
	switch {
	case errors.Is(err, conversations.ErrNotFound):
		return nil // it has ended (or expired) already
	case err != nil:
		return err
	case b.opts.Watch == nil:
		return fmt.Errorf("login watch %s: watching is off on this replica", j.ID)
	}
	done := conversations.TakeAck(ctx)
	go func() {
		defer done()
		b.watch(ctx, w)
	}()
	return nil
}

// watch runs w until it ends, then posts how, or until ctx ends (this
// replica stops), then hands it over to another replica.
func (b *Bot) watch(ctx context.Context, w conversations.Watch) {
	log := b.log.With("watch_id", w.ID, "diag_id", w.ConversationID, "instance", w.InstanceID)
	watchCtx, cancel := context.WithDeadline(ctx, w.Deadline)
	defer cancel()
	lost := b.keepWatchLease(watchCtx, cancel, w, log)
	res := b.opts.Watch.WatchLogin(watchCtx, watchRequest(w))
	cancel()
	switch {
	case lost():
		log.WarnContext(ctx, "another login watch took the instance over: this one ends without a word")
	case !res.Reachable && ctx.Err() != nil:
		if err := b.handOverWatch(ctx, w.Job()); err != nil {
			log.ErrorContext(ctx, "handing a login watch over to another replica: it is lost", "err", err)
			return
		}
		log.InfoContext(ctx, "login watch handed over to another replica")
	default:
		b.endWatch(context.WithoutCancel(ctx), w, res, log)
	}
}

// watchRequest is what the watcher is asked for w.
func watchRequest(w conversations.Watch) diag.WatchRequest {
	req := diag.WatchRequest{Address: w.Address, Start: w.StartedAt, Deadline: w.Deadline}
	if w.GuestCheck {
		req.Guest = &diag.GuestTarget{Region: w.Region, InstanceID: w.InstanceID, OS: w.OS, Port: w.Port}
	}
	return req
}

// keepWatchLease renews w's claim on its instance at once and then every
// quarter lease until ctx ends. If another watch holds the claim, it calls
// stop. The returned lost waits for the renewals to end and reports whether
// the claim was lost.
func (b *Bot) keepWatchLease(ctx context.Context, stop func(), w conversations.Watch, log *slog.Logger) (lost func() bool) {
	var gone atomic.Bool
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			_, acquired, err := b.store.AcquireRun(ctx, watchKey(w.InstanceID), w.ID, watchLease)
			switch {
			case err == nil && !acquired:
				gone.Store(true)
				stop()
				return
			case err != nil && ctx.Err() == nil:
				log.WarnContext(ctx, "renewing a login watch's claim", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(watchLease / 4):
			}
		}
	}()
	return func() bool {
		<-ended
		return gone.Load()
	}
}

// handOverWatch queues the watch job j again, for another replica, when
// this one stops before the watch ends.
func (b *Bot) handOverWatch(ctx context.Context, j conversations.Job) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return b.store.Enqueue(ctx, j)
}

// endWatch posts how w ended, once whatever the replicas, then frees the
// instance; a watch that gave up is followed by a new diagnosis.
func (b *Bot) endWatch(ctx context.Context, w conversations.Watch, res diag.WatchResult, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, b.opts.DeliveryTTL)
	defer cancel()
	defer b.releaseWatch(w)
	var first bool
	err := b.retryStore(ctx, "ending a login watch", func(ctx context.Context) error {
		var err error
		first, err = b.store.EndWatch(ctx, w.ID)
		return err
	})
	if err != nil || !first {
		log.InfoContext(ctx, "login watch ended elsewhere, or its end cannot be recorded: not posting it", "err", err)
		return
	}
	log.InfoContext(ctx, "login watch ended", "reachable", res.Reachable, "service_running", res.Service != nil && res.Service.Running(w.Port),
		"attempts", res.Attempts, "waited", res.Waited)
	c, err := b.store.Conversation(ctx, w.ConversationID)
	if err != nil {
		log.ErrorContext(ctx, "the conversation of a login watch is gone", "err", err)
		return
	}
	b.postThread(ctx, "posting a login watch's end", c.Channel, c.ThreadTS, watchLine(w, res))
	_ = b.logEntry(ctx, c.ID, "watch", fmt.Sprintf("login watch of %s: reachable=%v after %d probes", w.Address, res.Reachable, res.Attempts))
	if !res.Reachable {
		b.releaseWatch(w) // the re-diagnosis probes the same port
		if text, err := b.queueRediagnosis(ctx, c, w.User); err != nil || text != "" {
			log.InfoContext(ctx, "no re-diagnosis after a login watch", "reason", text, "err", err)
		}
	}
}

// releaseWatch frees w's instance for the next watch.
func (b *Bot) releaseWatch(w conversations.Watch) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.store.ReleaseRun(ctx, watchKey(w.InstanceID), w.ID); err != nil {
		b.log.WarnContext(ctx, "releasing a login watch's claim", "watch_id", w.ID, "err", err)
	}
}

// watchLine is the thread line that ends a login watch: whether TCP
// answers and, when the guest was checked, whether the login service runs.
func watchLine(w conversations.Watch, res diag.WatchResult) string {
	head := fmt.Sprintf("TCP %d of %s", w.Port, escapeMrkdwn(w.InstanceID))
	svc, running := serviceClause(res.Service, w.Port)
	if !res.Reachable {
		head = fmt.Sprintf(":x: %s still does not answer after %s (%s)", head, res.Waited.Round(time.Second), escapeMrkdwn(res.LastError))
		switch {
		case res.Service == nil:
			return head + ". A new diagnosis follows."
		case running:
			return fmt.Sprintf("%s, although %s: the network path still blocks it. A new diagnosis follows.", head, svc)
		}
		return fmt.Sprintf("%s, and %s. A new diagnosis follows.", head, svc)
	}
	head = fmt.Sprintf("%s answers since %s", head, res.Since.UTC().Format("15:04:05 MST"))
	who := prefixed(", ", mention(w.User))
	switch {
	case res.Service == nil:
		return fmt.Sprintf(":white_check_mark: %s (the login service in the guest was not checked) — try logging in again%s.", head, who)
	case running:
		return fmt.Sprintf(":white_check_mark: %s, and %s — try logging in again%s.", head, svc, who)
	case res.Service.Err != "":
		return fmt.Sprintf(":white_check_mark: %s, but %s — try logging in again%s.", head, svc, who)
	}
	return fmt.Sprintf(":warning: %s, but %s: what answers may not be the login service. Try logging in%s, and re-diagnose if it fails.", head, svc, who)
}

// serviceClause says what an in-guest check found, "sshd is running in the
// guest (active, listening on 22)", and whether the service runs.
func serviceClause(c *diag.ServiceCheck, port int) (clause string, running bool) {
	if c == nil {
		return "", false
	}
	if c.Err != "" {
		return fmt.Sprintf("the login service could not be checked in the guest (%s)", truncateText(escapeMrkdwn(c.Err), 200, "…")), false
	}
	f := c.Facts
	name, state := escapeMrkdwn(orLoginService(f.LoginService)), escapeMrkdwn(f.LoginServiceState)
	listening := f.Listening(port)
	switch {
	case c.Running(port) && f.LoginSocket != "" && !f.ServiceUp():
		return fmt.Sprintf("%s is running in the guest (%s listens on %d)", name, escapeMrkdwn(f.LoginSocket), port), true
	case c.Running(port):
		return fmt.Sprintf("%s is running in the guest (%s, listening on %d)", name, state, port), true
	case f.RDPDenied:
		return fmt.Sprintf("%s is not running in the guest (Remote Desktop is disabled: fDenyTSConnections is 1)", name), false
	case f.ServiceUp():
		return fmt.Sprintf("%s is not running in the guest (%s, but not listening on %d)", name, state, port), false
	case listening:
		return fmt.Sprintf("%s is not running in the guest (%s; something else listens on %d)", name, state, port), false
	}
	return fmt.Sprintf("%s is not running in the guest (%s; nothing listens on %d)", name, state, port), false
}

func orLoginService(name string) string {
	if name == "" {
		return "the login service"
	}
	return name
}

// loginAddress is the public IP and login port a user logs in to.
func loginAddress(r *diag.Report) (string, bool) {
	if r == nil || r.Instance == nil || len(r.Instance.PublicIPs) == 0 || r.Instance.LoginPort == 0 {
		return "", false
	}
	return net.JoinHostPort(r.Instance.PublicIPs[0], strconv.Itoa(r.Instance.LoginPort)), true
}

// prefixed returns prefix+s, or "" when s is empty.
func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}
