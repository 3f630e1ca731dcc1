package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
)

// Worker consumes jobs from the shared queue. *conversations.Worker
// satisfies it.
type Worker interface {
	Consume(ctx context.Context, group, consumer string, handle func(context.Context, conversations.Job) error) error
}

// jobGroup is the consumer group every replica's workers join.
const jobGroup = "cvmlogin-workers"

// Run consumes jobs with Options.Workers consumers until ctx is done, then
// waits for the jobs in hand. A job interrupted by shutdown is not
// acknowledged, so another replica takes it over. It also expires undecided
// fix requests as their windows end, and reconciles fixes left running.
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
}

// handleJob runs one queued job.
func (b *Bot) handleJob(ctx context.Context, j conversations.Job) error {
	switch j.Kind {
	case conversations.JobDiagnose:
		return b.runDiagnosis(ctx, j)
	case conversations.JobFix:
		return b.runFix(ctx, j)
	}
	return fmt.Errorf("unknown job kind %q", j.Kind)
}

// runDiagnosis diagnoses into a conversation: it posts (or reuses) the report
// message, keeps it current while checks finish, then posts the details in
// its thread.
func (b *Bot) runDiagnosis(ctx context.Context, j conversations.Job) error {
	c, err := b.conversationOf(ctx, j)
	if err != nil {
		return err
	}
	ctx = diag.WithDiagnosisID(ctx, c.ID)
	release := sync.OnceFunc(func() { b.release(c, j.ID) })
	defer release()
	log := b.log.With("diag_id", c.ID, "channel", c.Channel, "target", c.Target)
	target, err := diag.ParseTarget(c.Target)
	if err != nil {
		return fmt.Errorf("conversation %s has a bad target: %w", c.ID, err)
	}
	if c.MessageTS == "" {
		if c, err = b.postPlaceholder(ctx, c); err != nil {
			log.Error("posting the report message", "err", err)
			_ = b.store.SetStatus(ctx, c.ID, conversations.ConversationFailed)
			b.tellUnposted(ctx, j, err)
			return err
		}
	}
	_ = b.logEntry(ctx, c.ID, "diagnosis", fmt.Sprintf("diagnosis of %s started for <@%s>", c.Target, j.Requester))

	progress := newProgressUpdater(b, c, j.Requester)
	runCtx, cancel := context.WithTimeout(ctx, b.opts.DiagnosisTimeout)
	report, runErr := b.diag.Diagnose(runCtx, diag.Request{Target: target, Region: c.Region, Port: c.Port, OnFinding: progress.add})
	cancel()
	progress.stop()
	if ctx.Err() != nil {
		// Shutting down mid-diagnosis: leave the job unacknowledged so that
		// another replica runs it again rather than publish a cut-short report.
		return ctx.Err()
	}
	b.opts.Metrics.Diagnosis(report, runErr)
	if runErr != nil {
		log.Warn("diagnosis could not run", "err", runErr)
	}
	log.Info("diagnosis finished", "fail", report.Summary.Fail, "unknown", report.Summary.Unknown, "likely_cause", likelyCause(report), "duration_ms", report.DurationMS)
	// The cloud has been read: finish publishing even if shutdown begins now.
	return b.publish(context.WithoutCancel(ctx), c, j.Requester, report, release)
}

// conversationOf returns the job's conversation, storing it first when the
// job brought a new one.
func (b *Bot) conversationOf(ctx context.Context, j conversations.Job) (conversations.Conversation, error) {
	c, err := b.store.Conversation(ctx, j.ConversationID)
	if !errors.Is(err, conversations.ErrNotFound) || j.Channel == "" {
		return c, err
	}
	c = conversations.Conversation{ID: j.ConversationID, Channel: j.Channel, ThreadTS: j.ThreadTS, Requester: j.Requester,
		Target: j.Target, Region: j.Region, Port: j.Port, Status: conversations.ConversationRunning}
	err = b.store.CreateConversation(ctx, c)
	if errors.Is(err, conversations.ErrConflict) { // a replica that died after storing it
		return b.store.Conversation(ctx, j.ConversationID)
	}
	return c, err
}

// tellUnposted tells whoever typed the command, through its response_url,
// that the report could not be posted: the usual first-run surprise is a bot
// that was never invited to the channel.
func (b *Bot) tellUnposted(ctx context.Context, j conversations.Job, err error) {
	if j.ResponseURL == "" {
		return
	}
	text := fmt.Sprintf(":warning: I could not post the report of %s here (%s), so nothing was diagnosed.", escapeMrkdwn(j.Target), escapeMrkdwn(err.Error()))
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && (se.Err == "not_in_channel" || se.Err == "channel_not_found") {
		text = fmt.Sprintf(":wave: I am not in this channel yet, so I could not post the report of %s. Invite me with `/invite @cvmlogin`, then run the command again.", escapeMrkdwn(j.Target))
	}
	_, _, err = b.slack.PostMessageContext(ctx, j.Channel, slack.MsgOptionResponseURL(j.ResponseURL, slack.ResponseTypeEphemeral), slack.MsgOptionText(text, false))
	if err != nil {
		b.log.WarnContext(ctx, "answering through response_url", "err", err)
	}
}

// postPlaceholder posts the "Diagnosing …" message and records it.
func (b *Bot) postPlaceholder(ctx context.Context, c conversations.Conversation) (conversations.Conversation, error) {
	partial := &diag.Report{Target: c.Target, Region: b.regionOf(c)}
	blocks := RenderReport(ReportView{Report: partial, Requester: c.Requester, Pending: diag.CheckIDs})
	ts, err := b.post(ctx, "posting the report message", c.Channel, c.ThreadTS,
		slack.MsgOptionText(ProgressFallbackText(partial), false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		return c, err
	}
	c.MessageTS = ts
	if c.ThreadTS == "" {
		c.ThreadTS = ts // a new report starts its own thread
	}
	if err := b.store.SetMessage(ctx, c.ID, c.Channel, c.MessageTS, c.ThreadTS); err != nil {
		return c, fmt.Errorf("recording the report message: %w", err)
	}
	return c, nil
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

// publish stores the final report, renders it into the report message with
// its buttons, releases the instance for the next run (the cloud has been
// read), and posts the details (and, for a re-diagnosis, what changed) in
// the thread.
func (b *Bot) publish(ctx context.Context, c conversations.Conversation, requester string, report *diag.Report, release func()) error {
	previous, err := b.store.SaveReport(ctx, c.ID, report)
	if err != nil {
		b.log.ErrorContext(ctx, "saving the report", "diag_id", c.ID, "err", err)
	}
	rediagnosis := previous != nil
	buttons, err := b.buttons(ctx, c, report)
	if err != nil {
		b.log.ErrorContext(ctx, "creating the report's buttons", "diag_id", c.ID, "err", err)
	}
	view := ReportView{Report: report, Requester: requester, Final: true, Buttons: buttons, Previous: previous}
	if rediagnosis {
		view.Note = fmt.Sprintf("Re-diagnosed for <@%s>", requester)
	}
	if err := b.update(ctx, "updating the report message", c.Channel, c.MessageTS,
		slack.MsgOptionText(ReportFallbackText(report), false), slack.MsgOptionBlocks(RenderReport(view)...)); err != nil {
		b.log.ErrorContext(ctx, "publishing the report", "diag_id", c.ID, "err", err)
		_ = b.store.SetStatus(ctx, c.ID, conversations.ConversationFailed)
		return err
	}
	release()
	if rediagnosis {
		b.postThread(ctx, "posting what changed", c.Channel, c.ThreadTS, changeSummary(requester, previous, report))
	}
	b.postThread(ctx, "posting the findings", c.Channel, c.ThreadTS, FindingDetails(report)...)
	b.postThread(ctx, "posting the API call log", c.Channel, c.ThreadTS, CallLog(report))
	_ = b.logEntry(ctx, c.ID, "diagnosis", "diagnosis finished: "+report.Verdict())
	b.audit(ctx, conversations.Event{Actor: requester, Action: "diagnose", InstanceID: instanceID(report), Region: report.Region, Channel: c.Channel,
		Params: map[string]string{"target": c.Target, "diag_id": c.ID}, Result: report.Verdict()})
	return b.store.SetStatus(ctx, c.ID, conversations.ConversationDone)
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
// most once per UpdateInterval.
type progressUpdater struct {
	b         *Bot
	c         conversations.Conversation
	requester string
	mu        sync.Mutex
	findings  []diag.Finding
	dirty     bool
	done      chan struct{}
	stopped   sync.WaitGroup
}

func newProgressUpdater(b *Bot, c conversations.Conversation, requester string) *progressUpdater {
	p := &progressUpdater{b: b, c: c, requester: requester, done: make(chan struct{})}
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

// flush renders the findings so far, if any arrived since the last update.
func (p *progressUpdater) flush() {
	p.mu.Lock()
	if !p.dirty {
		p.mu.Unlock()
		return
	}
	partial := &diag.Report{Target: p.c.Target, Region: p.b.regionOf(p.c), Findings: append([]diag.Finding(nil), p.findings...)}
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
	// Progress is best effort: the final update follows anyway.
	_, _, _, err := p.b.slack.UpdateMessageContext(ctx, p.c.Channel, p.c.MessageTS,
		slack.MsgOptionText(ProgressFallbackText(partial), false), slack.MsgOptionBlocks(blocks...))
	if err != nil && !errors.Is(err, context.Canceled) {
		p.b.log.DebugContext(ctx, "progress update failed", "diag_id", p.c.ID, "err", err)
	}
}
