package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/internal/pause"
)

// Worker consumes jobs from the shared queue. *conversations.Worker
// satisfies it.
type Worker interface {
	Consume(ctx context.Context, group, consumer string, handle func(context.Context, conversations.Job) error) error
}

// jobGroup is the consumer group every replica's workers join.
const jobGroup = "cvmlogin-workers"

// Run consumes jobs with Options.Workers consumers until ctx is done, then
// waits for the jobs in hand and for what they left to publish. A job
// interrupted by shutdown is not acknowledged, so another replica takes it
// over. It also expires undecided fix requests as their windows end, and
// reconciles fixes left running.
func (b *Bot) Run(ctx context.Context, w Worker) {
	var wg sync.WaitGroup
	wg.Go(func() { b.sweepFixes(ctx, b.opts.ExpirySweep) })
	for i := range b.opts.Workers {
		consumer := fmt.Sprintf("%s-%d", b.opts.Replica, i)
		wg.Go(func() {
			_ = w.Consume(ctx, jobGroup, consumer, b.handleJob)
		})
	}
	wg.Wait()
	b.out.wait()
}

// handleJob runs one queued job, counting the worker busy meanwhile.
func (b *Bot) handleJob(ctx context.Context, j conversations.Job) error {
	b.busy.Add(1)
	defer b.busy.Add(-1)
	switch j.Kind {
	case conversations.JobDiagnose:
		return b.runDiagnosis(ctx, j)
	case conversations.JobFix:
		return b.runFix(ctx, j)
	case conversations.JobWatch:
		return b.runWatch(ctx, j)
	}
	return fmt.Errorf("unknown job kind %q", j.Kind)
}

// errChannelClosed stands for the Slack error that closed a channel, for a
// job that finds it closed before trying.
var errChannelClosed = errors.New("the bot cannot post in this channel")

// runDiagnosis diagnoses into a conversation and hands the report to the
// channel's sender: the worker is free for the next diagnosis as soon as the
// cloud has been read, whatever Slack's pace. A diagnosis that outlasts
// PlaceholderAfter, for a user not told already that it was queued, first
// gets a "Diagnosing…" message, kept current while Slack's budget allows.
func (b *Bot) runDiagnosis(ctx context.Context, j conversations.Job) error {
	c, err := b.conversationOf(ctx, j)
	if err != nil {
		return err
	}
	ctx = diag.WithDiagnosisID(ctx, c.ID)
	release := sync.OnceFunc(func() { b.release(c, j.ID) })
	c = b.findRerouted(ctx, c, j)
	if b.isClosed(c.Channel) {
		to := b.fallbackChannel(j, c.Channel)
		if to == "" {
			release()
			b.failUnposted(ctx, c, j, nil, errChannelClosed)
			return nil
		}
		c = b.reroute(ctx, c, j, to)
	}
	log := b.log.With("diag_id", c.ID, "channel", c.Channel, "target", c.Target)
	target, err := diag.ParseTarget(c.Target)
	if err != nil {
		release()
		return fmt.Errorf("conversation %s has a bad target: %w", c.ID, err)
	}
	b.startRun(ctx, c, j.ID)
	_ = b.logEntry(ctx, c.ID, "diagnosis", fmt.Sprintf("diagnosis of %s started for <@%s>", c.Target, j.Requester))

	msg := &reportMessage{c: c}
	var placeholder *time.Timer
	if c.MessageTS == "" && !j.Notified {
		placeholder = time.AfterFunc(b.opts.PlaceholderAfter, func() {
			b.out.send(c.Channel, true, func() { b.postPlaceholder(context.WithoutCancel(ctx), msg, j) })
		})
	}
	progress := newProgressUpdater(b, msg, j.Requester)
	start := time.Now()
	runCtx, cancel := context.WithTimeout(ctx, b.opts.DiagnosisTimeout)
	report, runErr := b.diag.Diagnose(runCtx, diag.Request{Target: target, Region: c.Region, Port: c.Port, Symptom: c.Symptom, OnFinding: progress.add})
	cancel()
	if placeholder != nil {
		placeholder.Stop()
	}
	msg.finish()
	progress.stop()
	if ctx.Err() != nil {
		// Shutting down mid-diagnosis: leave the job unacknowledged so that
		// another replica runs it again rather than publish a cut-short report.
		release()
		return ctx.Err()
	}
	b.pace.observe(time.Since(start))
	b.opts.Metrics.Diagnosis(report, runErr)
	if runErr != nil {
		log.Warn("diagnosis could not run", "err", runErr)
	}
	log.Info("diagnosis finished", "fail", report.Summary.Fail, "unknown", report.Summary.Unknown, "likely_cause", likelyCause(report), "duration_ms", report.DurationMS)
	// The cloud has been read: publishing goes on even if shutdown begins now.
	// The job stays pending until the report is out, so that if this
	// process dies first another replica runs it again.
	pubCtx, published := context.WithoutCancel(ctx), conversations.TakeAck(ctx)
	b.out.send(c.Channel, true, func() {
		defer published()
		b.publish(pubCtx, msg, j, report, release)
	})
	return nil
}

// startRun shortens the instance's claim, which covered the job's wait in
// the queue, to the run's own length.
func (b *Bot) startRun(ctx context.Context, c conversations.Conversation, jobID string) {
	_, _, err := b.store.AcquireRun(ctx, b.runKey(c.Target, c.Region), runOwner(c.ID, jobID), b.opts.DiagnosisTimeout+time.Minute)
	if err != nil {
		b.log.WarnContext(ctx, "renewing the run claim", "diag_id", c.ID, "err", err)
	}
}

// reportMessage is the Slack message of one diagnosis while it runs: none
// yet, then perhaps a placeholder, then the report.
type reportMessage struct {
	mu   sync.Mutex
	c    conversations.Conversation
	done bool // the report is ready: no placeholder is needed any more
}

func (m *reportMessage) conv() conversations.Conversation {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c
}

func (m *reportMessage) finish() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done = true
}

// moved makes c, moved to another channel, the message's conversation,
// and returns it.
func (m *reportMessage) moved(c conversations.Conversation) conversations.Conversation {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.c = c
	return c
}

// placed records the report message's ts, the thread's too for a report
// that starts its own.
func (m *reportMessage) placed(ts string) conversations.Conversation {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.c.MessageTS = ts
	if m.c.ThreadTS == "" {
		m.c.ThreadTS = ts
	}
	return m.c
}

// conversationOf returns the job's conversation, storing it first when the
// job brought a new one.
func (b *Bot) conversationOf(ctx context.Context, j conversations.Job) (conversations.Conversation, error) {
	c, err := b.store.Conversation(ctx, j.ConversationID)
	if !errors.Is(err, conversations.ErrNotFound) || j.Channel == "" {
		return c, err
	}
	c = conversations.Conversation{ID: j.ConversationID, Channel: j.Channel, ThreadTS: j.ThreadTS, Requester: j.Requester,
		Target: j.Target, Region: j.Region, Port: j.Port, Symptom: j.Symptom, Trigger: j.Trigger, Status: conversations.ConversationRunning}
	err = b.store.CreateConversation(ctx, c)
	if errors.Is(err, conversations.ErrConflict) { // a replica that died after storing it
		return b.store.Conversation(ctx, j.ConversationID)
	}
	return c, err
}

// failUnposted records that the report of c could not be posted and tells
// whoever typed the command, through its response_url, with the verdict when
// there is one: the usual first-run surprise is a bot that was never invited
// to the channel. A job without response_url has nobody to tell: see
// reportLost.
func (b *Bot) failUnposted(ctx context.Context, c conversations.Conversation, j conversations.Job, report *diag.Report, err error) {
	_ = b.store.SetStatus(ctx, c.ID, conversations.ConversationFailed)
	if j.ResponseURL == "" {
		b.reportLost(ctx, c, j, err)
		return
	}
	what := "so nothing was diagnosed"
	if report != nil {
		what = "diagnosis: " + outcomeText(report)
	}
	text := fmt.Sprintf(":warning: I could not post the report of %s here (%s), %s.", escapeMrkdwn(j.Target), escapeMrkdwn(err.Error()), escapeMrkdwn(what))
	if channelClosed(err) || errors.Is(err, errChannelClosed) {
		text = fmt.Sprintf(":wave: I cannot post in this channel (not a member, or it is archived or restricted), so I could not post the report of %s (%s). Invite me with `/invite @cvmlogin` or use another channel, then run the command again.",
			escapeMrkdwn(j.Target), escapeMrkdwn(what))
	}
	b.respond(ctx, j, false, text)
}

// reportLost logs at ERROR, and counts, a report that could be posted
// nowhere, of a job that has no response_url to tell anyone through: an
// alarm's whose channel and default alarm channel both failed, a mention's,
// a button's.
func (b *Bot) reportLost(ctx context.Context, c conversations.Conversation, j conversations.Job, err error) {
	trigger := "user"
	if j.Trigger != "" {
		trigger = "alarm"
	}
	b.log.ErrorContext(ctx, "a report could be posted nowhere and nobody could be told", "diag_id", c.ID, "instance", c.Target,
		"trigger", trigger, "alarm", j.Trigger, "channel", c.Channel, "routed_channel", j.Channel, "alarm_channel", b.opts.AlarmChannel, "err", err)
	b.opts.Metrics.ReportUndelivered(trigger)
}

// alarmFallback returns the channel where the report of job j goes when the
// bot cannot post in channel: the default alarm channel for an alarm's job
// (which has no response_url to answer through), unless that is channel
// itself, is not configured, or is closed too; else "".
func alarmFallback(j conversations.Job, channel, alarmChannel string, alarmChannelClosed bool) string {
	if j.Trigger == "" || j.ResponseURL != "" || alarmChannel == "" || alarmChannel == channel || alarmChannelClosed {
		return ""
	}
	return alarmChannel
}

// fallbackChannel is alarmFallback with the bot's default alarm channel.
func (b *Bot) fallbackChannel(j conversations.Job, channel string) string {
	return alarmFallback(j, channel, b.opts.AlarmChannel, b.isClosed(b.opts.AlarmChannel))
}

// rerouted reports whether c is the conversation of an alarm's job that
// was moved out of the channel the alarm was routed to.
func rerouted(c conversations.Conversation, j conversations.Job) bool {
	return j.Trigger != "" && j.Channel != "" && c.Channel != j.Channel
}

// reroute moves c, whose channel the bot cannot post in, to channel to,
// and records the move before anything is posted there, so that the job,
// if run again, goes there too and looks for what it posted (findRerouted).
func (b *Bot) reroute(ctx context.Context, c conversations.Conversation, j conversations.Job, to string) conversations.Conversation {
	b.log.WarnContext(ctx, "the bot cannot post in the alarm's channel: its report goes to the default alarm channel",
		"diag_id", c.ID, "instance", c.Target, "alarm", j.Trigger, "channel", c.Channel, "alarm_channel", to)
	c.Channel, c.MessageTS, c.ThreadTS = to, "", ""
	b.recordMessage(ctx, c)
	return c
}

// findRerouted returns c with the report message that an earlier run of
// job j posted after moving c (see reroute), if Slack has one: the job is
// run again when its first run was cut short, perhaps between posting and
// recording the message, and must update it, not post a second one.
func (b *Bot) findRerouted(ctx context.Context, c conversations.Conversation, j conversations.Job) conversations.Conversation {
	if !rerouted(c, j) || c.MessageTS != "" {
		return c
	}
	for _, kind := range []string{kindReport, kindPlaceholder} {
		if ts := b.findPosted(ctx, c, kind); ts != "" {
			c.MessageTS, c.ThreadTS = ts, ts
			b.recordMessage(ctx, c)
			break
		}
	}
	return c
}

// respond sends text to the command's response_url, only to its user, as a
// new message or replacing the command's acknowledgement. response_url
// calls are not paced: they are outside the Web API's limits.
func (b *Bot) respond(ctx context.Context, j conversations.Job, replace bool, text string) {
	if j.ResponseURL == "" {
		return
	}
	opts := []slack.MsgOption{slack.MsgOptionResponseURL(j.ResponseURL, slack.ResponseTypeEphemeral), slack.MsgOptionText(text, false)}
	if replace {
		opts = append(opts, slack.MsgOptionReplaceOriginal(j.ResponseURL))
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), answerTimeout)
	defer cancel()
	err := b.deliver(ctx, "answering through response_url", func(ctx context.Context) error {
		_, _, err := b.slack.PostMessageContext(ctx, j.Channel, opts...)
		return err
	})
	if err != nil {
		b.log.WarnContext(ctx, "answering through response_url", "err", err)
	}
}

// postPlaceholder posts the "Diagnosing…" message and records it, unless
// the report is ready by the time the channel's turn comes.
func (b *Bot) postPlaceholder(ctx context.Context, m *reportMessage, j conversations.Job) {
	m.mu.Lock()
	c, done := m.c, m.done
	m.mu.Unlock()
	if done {
		return
	}
	partial := &diag.Report{Target: c.Target, Region: b.regionOf(c)}
	blocks := RenderReport(ReportView{Report: partial, Requester: c.Requester, Pending: diag.CheckIDs})
	ts, err := b.postMessage(ctx, "posting the report message", kindPlaceholder, c, slack.MsgOptionText(ProgressFallbackText(partial), false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		b.log.ErrorContext(ctx, "posting the report message", "diag_id", c.ID, "err", err)
		return
	}
	b.recordMessage(ctx, m.placed(ts))
}

// recordMessage stores where the report message is, retrying while Redis is
// down: the buttons find their message through it.
func (b *Bot) recordMessage(ctx context.Context, c conversations.Conversation) {
	err := b.retryStore(ctx, "recording the report message", func(ctx context.Context) error {
		return b.store.SetMessage(ctx, c.ID, c.Channel, c.MessageTS, c.ThreadTS)
	})
	if err != nil {
		b.log.ErrorContext(ctx, "recording the report message", "diag_id", c.ID, "err", err)
	}
}

// retryStore runs a state-store call until it succeeds, fails other than by
// Redis being unavailable, or the delivery TTL passes.
func (b *Bot) retryStore(ctx context.Context, what string, call func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, b.opts.DeliveryTTL)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := call(ctx)
		if err == nil || !errors.Is(err, conversations.ErrUnavailable) {
			return err
		}
		b.log.WarnContext(ctx, "state store unavailable, retrying", "what", what, "retry_in", wait, "err", err)
		if pause.For(ctx, wait) != nil {
			return fmt.Errorf("%s: gave up: %w", what, err)
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func (b *Bot) regionOf(c conversations.Conversation) string {
	if c.Region != "" {
		return c.Region
	}
	return b.opts.DefaultRegion
}

func likelyCause(r *diag.Report) string {
	if r.LikelyCause == nil {
		return ""
	}
	return string(*r.LikelyCause)
}

// msgNoButtons is the report's note when its buttons could not be stored.
const msgNoButtons = ":warning: cvmlogin's state store (Redis) was unavailable, so this report has no buttons. Run `/cvm-login %s` again once it is back to get them."

// msgReposted is the report's note when its earlier message could not be
// updated.
const msgReposted = "The earlier message of this diagnosis could not be updated, so the report is posted anew here."

// publish stores the final report with its buttons, shows it (replacing the
// placeholder, or as a new message), releases the instance for the next run
// (the cloud has been read), and leaves the details for the thread (what
// changed, findings, API calls) to the channel's sender, after its reports.
// It runs on the channel's sender.
func (b *Bot) publish(ctx context.Context, m *reportMessage, j conversations.Job, report *diag.Report, release func()) {
	defer release()
	c := m.conv()
	previous, buttons, stored := b.storeReport(ctx, c, report)
	c, err := b.showReport(ctx, m, reportView(c, j, report, previous, buttons, stored))
	if to := b.fallbackChannel(j, c.Channel); to != "" && channelClosed(err) {
		c, err = b.showRerouted(ctx, m, j, report, previous, to)
	}
	if err != nil {
		b.log.ErrorContext(ctx, "publishing the report", "diag_id", c.ID, "err", err)
		b.failUnposted(ctx, c, j, report, err)
		return
	}
	release()
	if !j.QueuedAt.IsZero() {
		b.opts.Metrics.ReportDelivered(time.Since(j.QueuedAt))
	}
	if j.Notified {
		b.respond(ctx, j, true, fmt.Sprintf("The report of %s is ready: %s", escapeMrkdwn(c.Target), threadLink(c)))
	}
	b.out.send(c.Channel, false, func() { b.postDetails(ctx, c, j, details(j.Requester, previous, report)) })
	_ = b.logEntry(ctx, c.ID, "diagnosis", "diagnosis finished: "+report.Verdict())
	b.audit(ctx, conversations.Event{Actor: j.Requester, Action: "diagnose", InstanceID: instanceID(report), Region: report.Region, Channel: c.Channel,
		Params: map[string]string{"target": c.Target, "diag_id": c.ID}, Result: report.Verdict()})
	if err := b.store.SetStatus(ctx, c.ID, conversations.ConversationDone); err != nil {
		b.log.WarnContext(ctx, "recording the diagnosis as done", "diag_id", c.ID, "err", err)
	}
}

// msgRerouted is the note of an alarm's report posted in the default alarm
// channel because the bot cannot post in the channel the alarm was routed
// to, which it names.
const msgRerouted = ":warning: This report was meant for %s, but I cannot post there (I am not a member, or the channel is archived or restricted), so it is posted here. Invite me there with `/invite @cvmlogin`, or route the alarm to another channel."

// reportView is the final report of c as job j shows it, with its notes:
// the alarm that asked for it, who re-diagnosed, where an alarm's report was
// meant to go, missing buttons.
func reportView(c conversations.Conversation, j conversations.Job, report, previous *diag.Report, buttons map[string]string, stored bool) ReportView {
	view := ReportView{Report: report, Requester: j.Requester, Final: true, Buttons: buttons, Previous: previous}
	if previous != nil {
		view.Note = "Re-diagnosed" + prefixed(" for ", mention(j.Requester))
	}
	if c.Trigger != "" {
		view.Note = joinNote(":rotating_light: "+escapeMrkdwn(c.Trigger), view.Note)
	}
	if rerouted(c, j) {
		view.Note = joinNote(view.Note, fmt.Sprintf(msgRerouted, channelMention(j.Channel)))
	}
	if !stored {
		view.Note = joinNote(view.Note, fmt.Sprintf(msgNoButtons, escapeMrkdwn(c.Target)))
	}
	return view
}

// channelMention shows a channel ID as a link to the channel, or, when it
// is not shaped like one (a webhook may name anything), as quoted text.
func channelMention(id string) string {
	if channelShape.MatchString(id) {
		return "<#" + id + ">"
	}
	return escapeMrkdwn(strconv.Quote(truncateText(id, 40, "…")))
}

// showRerouted shows the report of m, which the bot cannot post in its
// channel, in channel to instead, with buttons made for that channel: a
// button's value answers only in the channel it was made for.
func (b *Bot) showRerouted(ctx context.Context, m *reportMessage, j conversations.Job, report, previous *diag.Report, to string) (conversations.Conversation, error) {
	c := m.moved(b.reroute(ctx, m.conv(), j, to))
	buttons, stored := b.storeButtons(ctx, c, report)
	return b.showReport(ctx, m, reportView(c, j, report, previous, buttons, stored))
}

// maxDetailsByResponseURL is how many thread messages may go through a
// command's response_url, which takes 5 messages: one is kept for replacing
// the queued notice, one for a failure.
const maxDetailsByResponseURL = 3

// postDetails posts a report's thread messages: through the command's
// response_url while it has uses left, which spends none of the Web API's
// budget, then with chat.postMessage, paced after the channel's reports.
func (b *Bot) postDetails(ctx context.Context, c conversations.Conversation, j conversations.Job, texts []string) {
	if j.ResponseURL != "" && c.ThreadTS == c.MessageTS {
		sent := 0
		for sent < len(texts) && sent < maxDetailsByResponseURL && b.respondInThread(ctx, j, c.ThreadTS, texts[sent]) {
			sent++
		}
		texts = texts[sent:]
	}
	b.postThread(ctx, "posting the details", c.Channel, c.ThreadTS, texts...)
}

// respondInThread posts text in thread, visible to the channel, through the
// command's response_url, and reports whether it did. It tries once: the
// caller falls back to chat.postMessage.
func (b *Bot) respondInThread(ctx context.Context, j conversations.Job, thread, text string) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, _, err := b.slack.PostMessageContext(ctx, j.Channel, slack.MsgOptionResponseURL(j.ResponseURL, slack.ResponseTypeInChannel),
		slack.MsgOptionTS(thread), slack.MsgOptionText(text, false))
	if err != nil {
		b.log.WarnContext(ctx, "posting the details through response_url, falling back to chat.postMessage", "diag_id", j.ConversationID, "err", err)
	}
	return err == nil
}

// details are the thread messages of a report, as few as fit: what changed
// since the previous report, the findings, then the API call log.
func details(requester string, previous, report *diag.Report) []string {
	var entries []string
	if previous != nil {
		entries = append(entries, changeSummary(requester, previous, report))
	}
	entries = append(entries, FindingDetails(report)...)
	return packMessages(append(entries, CallLog(report)), "\n\n")
}

func joinNote(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "\n" + b
}

// storeReport saves the report and creates its buttons, retrying while
// Redis is down, for as long as the delivery TTL. stored is false when it
// could not: the report is then shown without buttons.
func (b *Bot) storeReport(ctx context.Context, c conversations.Conversation, report *diag.Report) (previous *diag.Report, buttons map[string]string, stored bool) {
	err := b.retryStore(ctx, "saving the report", func(ctx context.Context) error {
		var err error
		previous, err = b.store.SaveReport(ctx, c.ID, report)
		return err
	})
	if err != nil {
		b.log.ErrorContext(ctx, "storing the report", "diag_id", c.ID, "err", err)
		return previous, nil, false
	}
	buttons, stored = b.storeButtons(ctx, c, report)
	return previous, buttons, stored
}

// storeButtons creates the report's buttons in c's channel, retrying while
// Redis is down, for as long as the delivery TTL; stored is false when it
// could not.
func (b *Bot) storeButtons(ctx context.Context, c conversations.Conversation, report *diag.Report) (buttons map[string]string, stored bool) {
	err := b.retryStore(ctx, "creating the report's buttons", func(ctx context.Context) error {
		var err error
		buttons, err = b.buttons(ctx, c, report)
		return err
	})
	if err != nil {
		b.log.ErrorContext(ctx, "storing the report's buttons", "diag_id", c.ID, "err", err)
		return nil, false
	}
	return buttons, true
}

// showReport puts the rendered report into its message: an update of the
// placeholder (or of the previous report), or a new message when there is
// none or it cannot be updated any more. It returns the conversation as
// recorded.
func (b *Bot) showReport(ctx context.Context, m *reportMessage, view ReportView) (conversations.Conversation, error) {
	c := m.conv()
	render := func() []slack.MsgOption {
		return []slack.MsgOption{slack.MsgOptionText(ReportFallbackText(view.Report), false), slack.MsgOptionBlocks(RenderReport(view)...)}
	}
	if c.MessageTS != "" {
		err := b.update(ctx, "updating the report message", c.Channel, c.MessageTS, render()...)
		if err == nil || transient(err) || channelClosed(err) {
			return c, err
		}
		b.log.WarnContext(ctx, "the report message cannot be updated, posting the report anew", "diag_id", c.ID, "err", err)
		view.Note = joinNote(view.Note, msgReposted)
		m.mu.Lock()
		if m.c.ThreadTS == m.c.MessageTS {
			m.c.ThreadTS = ""
		}
		m.c.MessageTS = ""
		m.mu.Unlock()
		c = m.conv()
	}
	ts, err := b.postMessage(ctx, "posting the report", kindReport, c, render()...)
	if err != nil {
		return c, err
	}
	c = m.placed(ts)
	b.recordMessage(ctx, c)
	return c, nil
}

// metadataEvent is the event_type of the metadata on the bot's report
// messages; its payload names the diagnosis (diag_id) and the message's kind.
const metadataEvent = "cvmlogin_report"

// The kinds of report message.
const (
	kindPlaceholder = "placeholder"
	kindReport      = "report"
)

// postMessage posts a message of conversation c, of the given kind, at the
// top of its channel or in its thread, at most once: Slack may answer an
// error (5xx, a lost connection) although the message was posted, so before
// trying again the bot looks for it by its metadata.
func (b *Bot) postMessage(ctx context.Context, what, kind string, c conversations.Conversation, opts ...slack.MsgOption) (string, error) {
	opts = append(opts, slack.MsgOptionMetadata(slack.SlackMetadata{
		EventType: metadataEvent, EventPayload: map[string]any{"diag_id": c.ID, "kind": kind},
	}))
	if c.ThreadTS != "" {
		opts = append(opts, slack.MsgOptionTS(c.ThreadTS))
	}
	var ts string
	unsure := false
	err := b.deliverPaced(ctx, what, b.postLimits(c.Channel), func(ctx context.Context) error {
		if unsure {
			if found := b.findPosted(ctx, c, kind); found != "" {
				ts = found
				return nil
			}
		}
		var err error
		_, ts, err = b.slack.PostMessageContext(ctx, c.Channel, opts...)
		unsure = unsure || ambiguous(err)
		return err
	})
	if channelClosed(err) {
		b.closeChannel(c.Channel)
	}
	return ts, err
}

// findPosted returns the ts of c's message of kind if Slack has it, or "".
func (b *Bot) findPosted(ctx context.Context, c conversations.Conversation, kind string) string {
	var messages []slack.Message
	var err error
	if c.ThreadTS != "" {
		messages, _, _, err = b.slack.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: c.Channel, Timestamp: c.ThreadTS, Limit: 200, IncludeAllMetadata: true})
	} else {
		var resp *slack.GetConversationHistoryResponse
		if resp, err = b.slack.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
			ChannelID: c.Channel, Limit: 100, IncludeAllMetadata: true}); err == nil {
			messages = resp.Messages
		}
	}
	if err != nil {
		b.log.WarnContext(ctx, "looking for a message Slack may have posted", "diag_id", c.ID, "err", err)
		return ""
	}
	for _, m := range messages {
		p := m.Metadata.EventPayload
		if m.Metadata.EventType == metadataEvent && p["diag_id"] == c.ID && p["kind"] == kind {
			return m.Timestamp
		}
	}
	return ""
}

// changeSummary is the thread message of a re-diagnosis: every check whose
// status changed.
func changeSummary(requester string, before, after *diag.Report) string {
	lines := Diff(before, after)
	if len(lines) == 0 {
		return fmt.Sprintf("Re-diagnosis for <@%s>: nothing changed.", requester)
	}
	text := fmt.Sprintf("Re-diagnosis for <@%s>, what changed:", requester)
	for _, l := range lines {
		text += "\n" + l
	}
	return text
}

func instanceID(r *diag.Report) string {
	if r.Instance == nil {
		return ""
	}
	return r.Instance.ID
}

// buttons creates an opaque reference for each button the report offers.
func (b *Bot) buttons(ctx context.Context, c conversations.Conversation, r *diag.Report) (map[string]string, error) {
	actions := ButtonsFor(r)
	if c.OpenPortsFix != "" {
		actions = append(actions, string(diag.FixUndoOpenPorts))
	}
	if c.GuestFirewallFix != "" {
		actions = append(actions, string(diag.FixUndoGuestFirewall))
	}
	out := make(map[string]string, len(actions))
	for _, action := range actions {
		id, err := b.store.CreateRef(ctx, conversations.Ref{Action: action, ConversationID: c.ID, Channel: c.Channel})
		if err != nil {
			return out, err
		}
		out[action] = id
	}
	return out, nil
}

// logEntry appends to the conversation's log.
func (b *Bot) logEntry(ctx context.Context, id, kind, text string) error {
	err := b.store.AppendLog(ctx, id, conversations.LogEntry{Time: b.opts.Now().UTC(), Kind: kind, Text: text})
	if err != nil {
		b.log.WarnContext(ctx, "appending to the conversation log", "diag_id", id, "err", err)
	}
	return err
}

// audit appends to the audit stream; a failure is logged, never fatal.
func (b *Bot) audit(ctx context.Context, e conversations.Event) {
	e.Time = b.opts.Now().UTC()
	if err := b.store.Audit(ctx, e); err != nil {
		b.log.ErrorContext(ctx, "writing the audit stream", "action", e.Action, "err", err)
	}
}

// progressUpdater keeps the report message current while checks finish, at
// most once per UpdateInterval, and only while Slack's chat.update budget
// has room at once: progress is the first thing to drop under pressure.
type progressUpdater struct {
	b         *Bot
	msg       *reportMessage
	requester string
	mu        sync.Mutex
	findings  []diag.Finding
	dirty     bool
	done      chan struct{}
	stopped   sync.WaitGroup
}

func newProgressUpdater(b *Bot, msg *reportMessage, requester string) *progressUpdater {
	p := &progressUpdater{b: b, msg: msg, requester: requester, done: make(chan struct{})}
	p.stopped.Go(p.loop)
	return p
}

// add records a finished check; it is the pipeline's OnFinding.
func (p *progressUpdater) add(f diag.Finding) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.findings = append(p.findings, f)
	p.dirty = true
}

// stop ends the updates and waits for one in flight.
func (p *progressUpdater) stop() {
	close(p.done)
	p.stopped.Wait()
}

func (p *progressUpdater) loop() {
	tick := time.NewTicker(p.b.opts.UpdateInterval)
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-tick.C:
			p.flush()
		}
	}
}

// flush renders the findings so far, if any arrived since the last update
// and the report message exists.
func (p *progressUpdater) flush() {
	c := p.msg.conv()
	p.mu.Lock()
	if !p.dirty || c.MessageTS == "" {
		p.mu.Unlock()
		return
	}
	partial := &diag.Report{Target: c.Target, Region: p.b.regionOf(c), Findings: append([]diag.Finding(nil), p.findings...)}
	p.dirty = false
	p.mu.Unlock()
	partial.Finish()
	var pending []diag.CheckID
	for _, id := range diag.CheckIDs {
		if _, ok := partial.Finding(id); !ok {
			pending = append(pending, id)
		}
	}
	blocks := RenderReport(ReportView{Report: partial, Requester: p.requester, Pending: pending})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !p.b.updateIfFree(ctx, c.Channel, c.MessageTS, slack.MsgOptionText(ProgressFallbackText(partial), false), slack.MsgOptionBlocks(blocks...)) {
		p.mu.Lock()
		p.dirty = true // try again at the next tick
		p.mu.Unlock()
	}
}
