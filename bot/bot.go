package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/bot/slackio"
	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/internal/defaults"
)

// SlackAPI is the part of the Slack Web API the bot calls. *slack.Client
// satisfies it; build it with slack.OptionRetryConfig so that 429 answers
// are retried after their Retry-After.
type SlackAPI interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
	PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slack.MsgOption) (string, error)
	UploadFileContext(ctx context.Context, params slack.UploadFileParameters) (*slack.FileSummary, error)
	GetUserGroupMembersContext(ctx context.Context, userGroup string, options ...slack.GetUserGroupMembersOption) ([]string, error)
	AuthTestContext(ctx context.Context) (*slack.AuthTestResponse, error)
	// OpenViewContext opens a modal (views.open) with the trigger_id of the
	// interaction that asked for it.
	OpenViewContext(ctx context.Context, triggerID string, view slack.ModalViewRequest) (*slack.ViewResponse, error)
	// The two below find a message whose post Slack answered with an error
	// although it took effect, by its metadata.
	GetConversationHistoryContext(ctx context.Context, params *slack.GetConversationHistoryParameters) (*slack.GetConversationHistoryResponse, error)
	GetConversationRepliesContext(ctx context.Context, params *slack.GetConversationRepliesParameters) ([]slack.Message, bool, string, error)
}

// Store is the state the bot keeps in Redis. *conversations.Store satisfies it.
type Store interface {
	Ping(ctx context.Context) error
	CreateConversation(ctx context.Context, c conversations.Conversation) error
	Conversation(ctx context.Context, id string) (conversations.Conversation, error)
	SetMessage(ctx context.Context, id, channel, messageTS, threadTS string) error
	SetStatus(ctx context.Context, id, status string) error
	SetSymptom(ctx context.Context, id, symptom string) error
	SaveReport(ctx context.Context, id string, r *diag.Report) (*diag.Report, error)
	Report(ctx context.Context, id string) (*diag.Report, error)
	AppendLog(ctx context.Context, id string, e conversations.LogEntry) error
	Log(ctx context.Context, id string) ([]conversations.LogEntry, error)
	FirstSeen(ctx context.Context, kind, key string, ttl time.Duration) (bool, error)
	CreateRef(ctx context.Context, r conversations.Ref) (string, error)
	ResolveRef(ctx context.Context, id string) (conversations.Ref, error)
	Enqueue(ctx context.Context, j conversations.Job) error
	QueuePosition(ctx context.Context, channel string) (int64, error)
	AcquireRun(ctx context.Context, instanceKey, conversationID string, ttl time.Duration) (string, bool, error)
	ReleaseRun(ctx context.Context, instanceKey, conversationID string) error
	CreateFixRequest(ctx context.Context, fr conversations.FixRequest, ttl time.Duration) (conversations.FixRequest, error)
	FixRequest(ctx context.Context, id string) (conversations.FixRequest, error)
	Transition(ctx context.Context, id string, from, to diag.FixStatus, mutate func(*conversations.FixRequest)) (conversations.FixRequest, error)
	AcquireFixLease(ctx context.Context, id, owner string, ttl time.Duration) (bool, error)
	RenewFixLease(ctx context.Context, id, owner string, ttl time.Duration) (bool, error)
	ReleaseFixLease(ctx context.Context, id, owner string) error
	StrandedFixes(ctx context.Context) ([]conversations.FixRequest, error)
	SetFixParam(ctx context.Context, id, key, value string) error
	Audit(ctx context.Context, e conversations.Event) error
	SetOpenPortsFix(ctx context.Context, id, fixID string) error
	SetGuestFirewallFix(ctx context.Context, id, fixID string) error
	ExpireDue(ctx context.Context) ([]conversations.FixRequest, error)
	// The login watches (watch.go).
	StartWatch(ctx context.Context, w conversations.Watch) error
	Watch(ctx context.Context, id string) (conversations.Watch, error)
	EndWatch(ctx context.Context, id string) (bool, error)
}

// Diagnoser runs a diagnosis. *diag.Diagnoser satisfies it.
type Diagnoser interface {
	Diagnose(ctx context.Context, req diag.Request) (*diag.Report, error)
}

// Fixer applies an approved fix, and finds out what an interrupted one did.
// *diag.Fixer satisfies it.
type Fixer interface {
	Execute(ctx context.Context, plan diag.FixPlan) (diag.FixOutcome, error)
	Reconcile(ctx context.Context, plan diag.FixPlan, requestID string) (diag.FixOutcome, error)
}

// Options configure a Bot. Zero values take the defaults noted.
type Options struct {
	DefaultRegion   string
	KnownRegion     func(string) bool // nil: any region-shaped name
	AllowedChannels []string          // empty: every channel the bot is in
	Approvers       []string          // Slack user IDs allowed to approve fixes
	ApproverGroups  []string          // user-group IDs whose members may approve
	FourEyes        bool              // the requester of a fix cannot approve it
	ApprovalTTL     time.Duration     // default 15m
	// DiagnosisTimeout bounds one diagnosis; coalescing holds the instance
	// for this long at most. Default 30s.
	DiagnosisTimeout time.Duration
	// DeliveryTTL is how long the bot keeps trying to post a finished
	// report or outcome while Slack fails. Default 15m.
	DeliveryTTL time.Duration
	// UpdateInterval spaces the progress updates of a report message.
	// Default 1s.
	UpdateInterval time.Duration
	// PostInterval spaces the bot's posts in one channel: Slack allows about
	// one message per second per channel. Default 1s.
	PostInterval time.Duration
	// UpdateEvery spaces the chat.update calls of the whole workspace:
	// Tier 3, 50 per minute. Default 1.2s.
	UpdateEvery time.Duration
	// PlaceholderAfter is how long a diagnosis may run before its
	// "Diagnosing…" message is posted; a faster one posts only its report.
	// Default 1.5s.
	PlaceholderAfter time.Duration
	// Workers is how many jobs this replica diagnoses at once
	// (diagnosis.workers). Default DefaultWorkers. Publishing to Slack runs
	// apart from them, one sender per channel.
	Workers int
	// Pacer spaces Slack calls across replicas. Nil: the Store's, when it
	// has one (*conversations.Store), else this process's alone.
	Pacer Pacer
	// Replica names this process among the replicas sharing Redis.
	Replica string
	// ExpirySweep is how often undecided fix requests are checked for
	// expiry, to show it on their approval request, and running fixes for a
	// lost lease, to reconcile them. Default 30s.
	ExpirySweep time.Duration
	// FixLease is how long a running fix stays with its replica without a
	// renewal: after a crash, another replica reconciles it this long after
	// the last renewal. Default 30s.
	FixLease time.Duration
	// FixGrace is how long a fix in hand may go on after shutdown begins
	// before it is handed over to another replica. Default 20s.
	FixGrace time.Duration
	// GroupCacheTTL is how long approver-group members are cached. Default 5m.
	GroupCacheTTL time.Duration
	Logger        *slog.Logger
	Now           func() time.Time
	// Metrics counts diagnoses and fix request events; nil counts nothing.
	Metrics Metrics
	// AlarmChannel is where a diagnosis an alarm asks for is posted when
	// the alarm names no channel (alarms.channel).
	AlarmChannel string
	// VNC makes the VNC console links of the open_vnc button; nil answers
	// that the console is not available.
	VNC VNCOpener
	// Watch probes the login port, and checks the login service in the
	// guest, for the watch_login button and after a restart or start; nil
	// switches watching off. Watches are jobs: any replica resumes one.
	Watch LoginWatcher
}

// Bot is cvmlogin's Slack side: it turns commands, mentions and button
// presses into jobs, runs the jobs, and keeps the report message and its
// thread current. It implements slackio.Handler for the transports. It is safe for
// concurrent use; several replicas can share one Store.
type Bot struct {
	slack  SlackAPI
	store  Store
	diag   Diagnoser
	fixer  Fixer
	opts   Options
	log    *slog.Logger
	pacer  Pacer
	local  *localPacer
	out    *outbox
	groups *groupCache
	pace   diagnosisPace
	busy   atomic.Int64 // workers in a job's handler now

	closedMu sync.Mutex
	closed   map[string]time.Time // channels the bot cannot post in, until

	authMu sync.Mutex
	authAt time.Time
	team   string // the workspace, from auth.test
}

// DefaultWorkers is the default diagnosis concurrency of one replica: a
// diagnosis calls each Tencent Cloud action about once a second, so 16 keep
// within a replica's default share of the per-action budgets (20 per
// second) with room for the retries of a throttled one.
const DefaultWorkers = 16

var _ slackio.Handler = (*Bot)(nil)

// New returns a Bot.
func New(api SlackAPI, store Store, diagnoser Diagnoser, fixer Fixer, opts Options) *Bot {
	opts.ApprovalTTL = defaults.Duration(opts.ApprovalTTL, 15*time.Minute)
	opts.DiagnosisTimeout = defaults.Duration(opts.DiagnosisTimeout, 30*time.Second)
	opts.DeliveryTTL = defaults.Duration(opts.DeliveryTTL, 15*time.Minute)
	opts.UpdateInterval = defaults.Duration(opts.UpdateInterval, time.Second)
	opts.PostInterval = defaults.Duration(opts.PostInterval, time.Second)
	opts.GroupCacheTTL = defaults.Duration(opts.GroupCacheTTL, 5*time.Minute)
	opts.ExpirySweep = defaults.Duration(opts.ExpirySweep, 30*time.Second)
	opts.FixLease = defaults.Duration(opts.FixLease, 30*time.Second)
	opts.FixGrace = defaults.Duration(opts.FixGrace, 20*time.Second)
	opts.UpdateEvery = defaults.Duration(opts.UpdateEvery, 1200*time.Millisecond)
	opts.PlaceholderAfter = defaults.Duration(opts.PlaceholderAfter, 1500*time.Millisecond)
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Replica == "" {
		opts.Replica = "cvmlogin"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Metrics == nil {
		opts.Metrics = noMetrics{}
	}
	b := &Bot{slack: api, store: store, diag: diagnoser, fixer: fixer, opts: opts, log: opts.Logger.With("component", "bot"),
		local: newLocalPacer(), closed: map[string]time.Time{}}
	b.pacer = opts.Pacer
	if b.pacer == nil {
		b.pacer = b.local
		if shared, ok := store.(interface{ Pacer() *conversations.Pacer }); ok {
			b.pacer = shared.Pacer()
		}
	}
	b.out = newOutbox(b.log)
	b.groups = newGroupCache(api, opts.GroupCacheTTL, opts.Now, b.log)
	return b
}

// Messages shown to users when something outside their control fails.
const (
	msgStoreDown = ":warning: cvmlogin's state store (Redis) is unavailable, so I can't take this on right now and nothing was started. Try again in a minute; if it persists, tell whoever runs the bot."
	msgInternal  = ":warning: Something went wrong on cvmlogin's side and nothing was started. Try again; if it persists, tell whoever runs the bot."
)

// storeTrouble turns a state-store error into what the user sees; an error
// of a request that ran out of time (queued behind a channel's posts, say)
// says the bot is busy.
func storeTrouble(err error) string {
	switch {
	case errors.Is(err, conversations.ErrUnavailable):
		return msgStoreDown
	case errors.Is(err, context.DeadlineExceeded):
		return slackio.MsgOverloaded
	}
	return msgInternal
}

// authCheckEvery is how often Ready re-asks Slack whether the token works.
const authCheckEvery = time.Minute

// Ready implements slackio.Handler: the state store answers and Slack accepts the
// bot token.
func (b *Bot) Ready(ctx context.Context) error {
	if err := b.store.Ping(ctx); err != nil {
		return err
	}
	b.authMu.Lock()
	defer b.authMu.Unlock()
	if b.opts.Now().Sub(b.authAt) < authCheckEvery {
		return nil
	}
	auth, err := b.slack.AuthTestContext(ctx)
	if err != nil {
		return fmt.Errorf("checking the Slack bot token (auth.test): %w", err)
	}
	b.authAt, b.team = b.opts.Now(), auth.TeamID
	return nil
}

// slackScope names the workspace whose Slack limits a call counts against:
// its team ID, asked of auth.test once.
func (b *Bot) slackScope(ctx context.Context) string {
	b.authMu.Lock()
	defer b.authMu.Unlock()
	if b.team == "" {
		if auth, err := b.slack.AuthTestContext(ctx); err == nil && auth.TeamID != "" {
			b.team = auth.TeamID
		} else {
			return "workspace"
		}
	}
	return b.team
}

// channelAllowed applies access.allowed_channels.
func (b *Bot) channelAllowed(channel string) bool {
	return len(b.opts.AllowedChannels) == 0 || slices.Contains(b.opts.AllowedChannels, channel)
}

const msgChannelNotAllowed = "cvmlogin is not enabled in this channel. Ask whoever runs the bot to add it to `access.allowed_channels`, or use a channel where it is enabled."

// knownRegion accepts configured region names, or any region-shaped name.
func (b *Bot) knownRegion(region string) bool {
	if b.opts.KnownRegion != nil {
		return b.opts.KnownRegion(region)
	}
	return regionShape.MatchString(region)
}

// Command implements slackio.Handler: /cvm-login TARGET [REGION] [--port N],
// and /cvm-login alone, which opens a form to fill in.
func (b *Bot) Command(ctx context.Context, cmd slack.SlashCommand) slackio.Reply {
	log := b.log.With("channel", cmd.ChannelID, "user", cmd.UserID)
	if !b.channelAllowed(cmd.ChannelID) {
		return slackio.Reply{Text: msgChannelNotAllowed}
	}
	if len(commandWords(cmd.Text)) == 0 && b.openDiagnoseModal(ctx, cmd) {
		return slackio.Reply{} // the form is the answer; without it, the help below
	}
	req, err := ParseCommand(cmd.Text, b.knownRegion)
	if err != nil {
		return slackio.Reply{Text: err.Error()}
	}
	if req.Help {
		return slackio.Reply{Text: Usage()}
	}
	text, err := b.startDiagnosis(ctx, req, conversations.Job{Channel: cmd.ChannelID, Requester: cmd.UserID, ResponseURL: cmd.ResponseURL})
	if err != nil {
		log.Error("starting a diagnosis", "target", req.Target.Raw, "err", err)
	}
	return slackio.Reply{Text: text}
}

// Mention implements slackio.Handler: @cvmlogin TARGET ... diagnoses into the thread
// it was said in (or starts one under the mention).
func (b *Bot) Mention(ctx context.Context, m slackio.Mention) {
	thread := m.ThreadTS
	if thread == "" {
		thread = m.TS
	}
	reply := func(text string) { b.ephemeral(ctx, m.Channel, m.User, thread, text) }
	if !b.channelAllowed(m.Channel) {
		reply(msgChannelNotAllowed)
		return
	}
	req, err := ParseCommand(m.Text, b.knownRegion)
	switch {
	case err != nil:
		reply(err.Error())
		return
	case req.Help:
		reply(Usage())
		return
	}
	text, err := b.startDiagnosis(ctx, req, conversations.Job{Channel: m.Channel, ThreadTS: thread, Requester: m.User})
	if err != nil {
		b.log.ErrorContext(ctx, "starting a diagnosis from a mention", "channel", m.Channel, "target", req.Target.Raw, "err", err)
	}
	if text != "" {
		reply(text)
	}
}

// runKey names an instance for coalescing: the same target in the same
// region is the same run.
func (b *Bot) runKey(target, region string) string {
	if region == "" {
		region = b.opts.DefaultRegion
	}
	return region + "/" + strings.ToLower(target)
}

// startDiagnosis queues the diagnosis of a new conversation, unless one for
// the same instance is already running; then it points there. It returns the
// text to show the user: "" when the report message itself will be the
// answer, or where the diagnosis stands when it must wait for its turn. The
// user waits for this: a few round trips to Redis (the run lock, the queue's
// depth, the channel's backlog, the job), the job carrying its conversation
// for the worker to store. where says who asked and where: its Channel,
// ThreadTS, Requester and ResponseURL.
func (b *Bot) startDiagnosis(ctx context.Context, req Request, where conversations.Job) (string, error) {
	if b.isClosed(where.Channel) {
		return fmt.Sprintf(msgChannelClosed, escapeMrkdwn(req.Target.Raw)), nil
	}
	c := conversations.Conversation{ID: conversations.NewID(), Target: req.Target.Raw, Region: req.Region}
	job := where
	job.ID, job.Kind, job.ConversationID = conversations.NewID(), conversations.JobDiagnose, c.ID
	job.Target, job.Region, job.Port, job.Symptom = c.Target, c.Region, req.Port, req.Symptom
	return b.enqueueDiagnosis(ctx, c, job)
}

// enqueueDiagnosis claims c's instance for job's run and queues the job,
// unless another run holds the instance. It returns what to tell the user:
// "" when the report message itself is the answer, or where the diagnosis
// stands when it must wait for its turn.
func (b *Bot) enqueueDiagnosis(ctx context.Context, c conversations.Conversation, job conversations.Job) (string, error) {
	job.Channel = cmp.Or(job.Channel, c.Channel) // a re-diagnosis's lane in the queue is its channel's
	// Read while the instance is claimed: one round trip less to wait for.
	position := make(chan int64, 1)
	go func() {
		ahead, err := b.store.QueuePosition(ctx, job.Channel)
		if err != nil {
			ahead = -1
		}
		position <- ahead
	}()
	if text, busy, err := b.coalesce(ctx, c, job.ID); busy || err != nil {
		return text, err
	}
	notice := b.queueNotice(job, <-position)
	job.Notified = notice != ""
	job.QueuedAt = time.Now()
	if err := b.store.Enqueue(ctx, job); err != nil {
		b.release(c, job.ID)
		return storeTrouble(err), err
	}
	return notice, nil
}

// msgChannelClosed answers a command in a channel the bot cannot post in.
const msgChannelClosed = ":warning: I cannot post in this channel (I am not a member, or it is archived or restricted), so I did not diagnose %s. Invite me with `/invite @cvmlogin` or use another channel."

// queueNotice returns what to tell the user whose job would wait for its
// turn behind others (the position jobs workers take before it, see
// conversations.Store.QueuePosition, and the jobs this replica's workers are
// busy with), or in a channel whose Slack budget is spent, or "" when it
// will run and post at once, or position is unknown (-1). Another channel's
// backlog counts only for the turns it takes first.
func (b *Bot) queueNotice(j conversations.Job, position int64) string {
	if position < 0 {
		return ""
	}
	ahead := int(position + b.busy.Load())
	backlog := time.Duration(b.out.pending(j.Channel)) * b.opts.PostInterval
	rounds := ahead / b.opts.Workers
	eta := time.Duration(rounds)*b.pace.typical() + backlog
	if ahead < b.opts.Workers && backlog < time.Second {
		return ""
	}
	return queuedText(j.Target, ahead, ahead >= b.opts.Workers, eta)
}

// diagnosisPace keeps the typical length of a diagnosis in this process, to
// estimate queue waits.
type diagnosisPace struct {
	mu  sync.Mutex
	avg time.Duration
}

// observe folds one diagnosis's length into the average.
func (p *diagnosisPace) observe(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.avg == 0 {
		p.avg = d
		return
	}
	p.avg = (p.avg*7 + d) / 8
}

// typical returns the average diagnosis length, 2s before any.
func (p *diagnosisPace) typical() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.avg == 0 {
		return 2 * time.Second
	}
	return p.avg
}

// runOwner names one run of a conversation in the coalescing lock.
func runOwner(conversationID, jobID string) string { return conversationID + "." + jobID }

// coalesce claims the instance for the job's run. busy is true when another
// run holds it; text then says where that run's report is.
func (b *Bot) coalesce(ctx context.Context, c conversations.Conversation, jobID string) (text string, busy bool, err error) {
	// The claim covers the wait in the queue too; the worker shortens it to
	// the run's length when the job starts.
	owner, acquired, err := b.store.AcquireRun(ctx, b.runKey(c.Target, c.Region), runOwner(c.ID, jobID), b.queuedRunTTL())
	if err != nil {
		return storeTrouble(err), false, err
	}
	if acquired {
		return "", false, nil
	}
	ownerConv, _, _ := strings.Cut(owner, ".")
	running, err := b.store.Conversation(ctx, ownerConv)
	if err != nil {
		return fmt.Sprintf("%s is already being diagnosed; its report will appear shortly.", escapeMrkdwn(c.Target)), true, nil
	}
	return fmt.Sprintf("%s is already being diagnosed (asked by <@%s>): %s", escapeMrkdwn(c.Target), running.Requester, threadLink(running)), true, nil
}

// queuedRunTTL bounds a run claimed while its job waits in the queue: a job
// not started within the delivery TTL is as good as lost.
func (b *Bot) queuedRunTTL() time.Duration {
	return max(b.opts.DeliveryTTL, b.opts.DiagnosisTimeout) + time.Minute
}

// release gives the instance back after a run, or after failing to start one.
func (b *Bot) release(c conversations.Conversation, jobID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.store.ReleaseRun(ctx, b.runKey(c.Target, c.Region), runOwner(c.ID, jobID)); err != nil {
		b.log.WarnContext(ctx, "releasing a run", "diag_id", c.ID, "err", err)
	}
}

// threadLink points at a conversation's report message in Slack.
func threadLink(c conversations.Conversation) string {
	ts := c.MessageTS
	if ts == "" {
		ts = c.ThreadTS
	}
	if ts == "" {
		return fmt.Sprintf("the report will appear in <#%s> shortly", c.Channel)
	}
	return fmt.Sprintf("<https://slack.com/archives/%s/p%s|see the report>", c.Channel, strings.ReplaceAll(ts, ".", ""))
}

// ephemeral shows text to one user, in a thread when thread is set, under
// a deadline of its own (see answer).
func (b *Bot) ephemeral(ctx context.Context, channel, user, thread, text string) {
	b.answer(ctx, slackio.Refusal{Channel: channel, User: user, ThreadTS: thread, Text: text})
}
