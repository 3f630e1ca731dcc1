package bot

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
)

// ActionWatchLogin watches the login port until it answers (design.md B7).
const ActionWatchLogin = "watch_login"

// labelWatchLogin is the watch button's label.
const labelWatchLogin = "Tell me when login works"

// LoginWatcher probes a login address until a TCP connect succeeds or its
// deadline passes. diag.WatchLogin with the diagnosis's dialer is one.
type LoginWatcher interface {
	WatchLogin(ctx context.Context, address string) diag.WatchResult
}

// watchTimeout bounds one watch, whatever the watcher's own deadline.
const watchTimeout = 15 * time.Minute

// watchLogin starts watching the report's instance for whoever pressed.
func (b *Bot) watchLogin(ctx context.Context, p press) {
	text, err := b.startWatch(ctx, p.conv, p.user)
	if err != nil {
		b.log.ErrorContext(ctx, "starting a login watch", "diag_id", p.conv.ID, "err", err)
	}
	b.reply(ctx, p, text)
}

// startWatch probes the login port of c's latest report in the background,
// once per instance at a time, and posts one line in the thread for user
// when it answers or the watch gives up. It returns what to tell user.
func (b *Bot) startWatch(ctx context.Context, c conversations.Conversation, user string) (string, error) {
	if b.opts.Watch == nil {
		return "Watching the login port is not available in this deployment.", nil
	}
	report, err := b.store.Report(ctx, c.ID)
	if err != nil {
		return storeTrouble(err), err
	}
	address, ok := loginAddress(report)
	if !ok {
		return "There is no public IP and login port to watch in this report.", nil
	}
	key, owner := "watch/"+report.Instance.ID, conversations.NewID()
	if _, acquired, err := b.store.AcquireRun(ctx, key, owner, watchTimeout); err != nil {
		return storeTrouble(err), err
	} else if !acquired {
		return "I am already watching " + escapeMrkdwn(report.Instance.ID) + "; the thread will say when login works.", nil
	}
	go b.watch(c, report, address, user, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = b.store.ReleaseRun(ctx, key, owner)
	})
	return fmt.Sprintf("Watching TCP %d of %s; the thread will say when it answers.", report.Instance.LoginPort, escapeMrkdwn(report.Instance.ID)), nil
}

// watch runs one watch to its end and posts how it ended.
func (b *Bot) watch(c conversations.Conversation, report *diag.Report, address, user string, release func()) {
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
	defer cancel()
	res := b.opts.Watch.WatchLogin(ctx, address)
	b.log.InfoContext(ctx, "login watch ended", "diag_id", c.ID, "address", address, "reachable", res.Reachable, "attempts", res.Attempts, "waited", res.Waited)
	port := report.Instance.LoginPort
	text := fmt.Sprintf(":white_check_mark: TCP %d of %s answers since %s — try logging in again%s.",
		port, escapeMrkdwn(report.Instance.ID), res.Since.UTC().Format("15:04:05 MST"), prefixed(", ", mention(user)))
	if !res.Reachable {
		text = fmt.Sprintf(":x: TCP %d of %s is still not reachable after %s (%s). A new diagnosis follows.",
			port, escapeMrkdwn(report.Instance.ID), res.Waited.Round(time.Second), escapeMrkdwn(res.LastError))
	}
	b.postThread(ctx, "posting a login watch's end", c.Channel, c.ThreadTS, text)
	_ = b.logEntry(ctx, c.ID, "watch", fmt.Sprintf("login watch of %s: reachable=%v after %d probes", address, res.Reachable, res.Attempts))
	if !res.Reachable {
		release() // the re-diagnosis probes the same port
		if text, err := b.queueRediagnosis(ctx, c, user); err != nil || text != "" {
			b.log.InfoContext(ctx, "no re-diagnosis after a login watch", "diag_id", c.ID, "reason", text, "err", err)
		}
	}
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
