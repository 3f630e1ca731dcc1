package conversations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cvmlogin/cvmlogin/internal/pause"
	"github.com/redis/go-redis/v9"
)

// The kinds of job.
const (
	JobDiagnose = "diagnose" // run a diagnosis for a conversation
	JobFix      = "fix"      // execute an approved fix request
	JobWatch    = "watch"    // run a login watch (see Watch); its ID is the watch's
)

// Job is a unit of work queued for whichever replica is free.
type Job struct {
	ID             string `json:"id"`
	Kind           string `json:"kind"` // JobDiagnose or JobFix
	ConversationID string `json:"conversation_id"`
	Target         string `json:"target"`
	Region         string `json:"region"`
	Port           int    `json:"port,omitempty"`
	// QueuedAt is when the job was asked for: what a user's wait for the
	// report is counted from. Zero for jobs queued by older versions.
	QueuedAt time.Time `json:"queued_at,omitzero"`
	// Symptom is the error message the user saw, as they typed it.
	Symptom string `json:"symptom,omitempty"`
	// Trigger says what asked for the diagnosis when no person did: an
	// alarm's one-line summary. Requester is then empty.
	Trigger      string `json:"trigger,omitempty"`
	Requester    string `json:"requester"`
	FixRequestID string `json:"fix_request_id,omitempty"` // for JobFix
	// Channel is the channel the job reports to, which gives the job its
	// lane in the queue (see Enqueue). With ThreadTS it also says where a
	// new conversation lives: a diagnosis job may carry its conversation
	// instead of the caller storing it first, and the worker creates it when
	// it is not stored yet. ThreadTS is empty for existing conversations.
	Channel  string `json:"channel,omitempty"`
	ThreadTS string `json:"thread_ts,omitempty"`
	// ResponseURL is the slash command's response_url, to tell the user
	// when the report cannot be posted in the channel at all.
	ResponseURL string `json:"response_url,omitempty"`
	// Notified is set when the user was already told, in the command's
	// acknowledgement, that the job is queued: the worker then posts no
	// "Diagnosing…" placeholder, only the report, and replaces that notice
	// through ResponseURL.
	Notified bool `json:"notified,omitempty"`
}

// jobKinds are the kinds of job Enqueue accepts: a new kind goes here too.
var jobKinds = []string{JobDiagnose, JobFix, JobWatch}

// jobField is the stream entry field holding a Job's JSON.
const jobField = "job"

// Enqueue appends j to its lane of the job queue, where one Worker of the
// consumer group will take it: the lane of its Channel, the default lane
// when it has none, or for a JobFix the fix lane, served before the others.
// An empty j.ID gets a new one.
func (s *Store) Enqueue(ctx context.Context, j Job) error {
	if j.ID == "" {
		j.ID = NewID()
	}
	doing := fmt.Sprintf("enqueuing %s job %s", j.Kind, j.ID)
	if !slices.Contains(jobKinds, j.Kind) {
		return fmt.Errorf("%s: unknown kind", doing)
	}
	data, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	lane, ringed := s.laneOf(j)
	q := s.queue()
	err = enqueueJob.Run(ctx, s.rdb, []string{lane, q.ring, q.ringed, q.lanes, q.bell},
		s.opts.JobsMaxLen, s.opts.TTL.Milliseconds(), jobField, data, ringed, bellLength).Err()
	if err != nil {
		return wrap(doing, err)
	}
	return nil
}

// QueueDepth returns the number of jobs in the queue, over all its lanes:
// those waiting for a worker plus those being handled, since a handled job
// is deleted from its lane when it is acknowledged. A queue never used has
// depth 0.
func (s *Store) QueueDepth(ctx context.Context) (int64, error) {
	lanes, err := s.laneLengths(ctx)
	if err != nil {
		return 0, wrap("reading the job queue's length", err)
	}
	var n int64
	for _, l := range lanes {
		n += l.length
	}
	return n, nil
}

// QueuePosition returns how many of the jobs waiting workers would take
// before a diagnosis queued now for channel, workers taking one job from
// each channel's lane in turn: the approved fixes, the jobs waiting in the
// channel's lane, and from each other lane as many as its turns come first,
// at most one more than wait in the channel's lane. A quiet channel's job is
// thus not counted behind a busy channel's backlog. The jobs being handled
// are not counted. Channel "" is the default lane's.
func (s *Store) QueuePosition(ctx context.Context, channel string) (int64, error) {
	lanes, err := s.laneLengths(ctx)
	if err != nil {
		return 0, wrap("reading the job queue's lanes", err)
	}
	lane, _ := s.laneOf(Job{Kind: JobDiagnose, Channel: channel})
	return position(lanes, lane, s.queue().fixLane), nil
}

func decodeJob(m redis.XMessage) (Job, error) {
	data, _ := m.Values[jobField].(string)
	var j Job
	if err := json.Unmarshal([]byte(data), &j); err != nil {
		return Job{}, fmt.Errorf("decoding job entry %s: %w", m.ID, err)
	}
	return j, nil
}

// WorkerOptions configures a Worker. The zero value of each field selects
// its default.
type WorkerOptions struct {
	// Block is how long a consumer with no job to take waits for one to be
	// queued before looking again (2s), in whole seconds, at least one: a
	// new job wakes a waiting consumer at once, whatever Block is. Consume
	// notices that its context is done within about this long.
	Block time.Duration
	// ClaimIdle is how long a job may sit unacknowledged, its consumer
	// silent, before another consumer takes it over (30s). A consumer
	// handling a job keeps it from going idle, however long it takes.
	ClaimIdle time.Duration
	// Logger receives failures; slog.Default() if nil.
	Logger *slog.Logger
}

// Worker takes jobs from the job queue. It is safe for concurrent use:
// run one Consume per job to handle in parallel, each with its own consumer
// name.
type Worker struct {
	store *Store
	opts  WorkerOptions
}

// Worker returns a Worker taking jobs from s's job queue.
func (s *Store) Worker(opts WorkerOptions) *Worker {
	if opts.Block <= 0 {
		opts.Block = 2 * time.Second
	}
	opts.Block = max(opts.Block.Round(time.Second), time.Second) // what BLPOP takes
	if opts.ClaimIdle <= 0 {
		opts.ClaimIdle = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Worker{store: s, opts: opts}
}

// Consume handles jobs as consumer of the consumer group group until ctx is
// done, then returns ctx.Err(). Jobs are handled one at a time, each by
// exactly one consumer of the group; every Consume of a Store's queue, in
// every replica, uses the same group. The consumers take approved fixes
// first, then one job from each lane in turn, so that each channel gets its
// share of the workers however many jobs another one queued.
//
// A job is acknowledged and deleted once handle returns, even with an error,
// which Consume logs: handle reports failures to the job's conversation
// itself. A job whose handle returns after ctx is done, or whose consumer
// dies, is not acknowledged; once it has been idle for ClaimIdle another
// consumer of the group claims it and handles it again.
//
// Redis failures do not stop Consume: it logs them and retries with backoff,
// recreating the group if Redis lost it.
func (w *Worker) Consume(ctx context.Context, group, consumer string, handle func(context.Context, Job) error) error {
	c := &consumerLoop{
		Worker: w,
		group:  group,
		name:   consumer,
		handle: handle,
		log:    w.opts.Logger.With("component", "conversations.worker", "group", group, "consumer", consumer),
	}
	defer c.deferred.Wait()
	var b backoff
	for ctx.Err() == nil {
		err := c.poll(ctx)
		if err == nil {
			b.reset()
			continue
		}
		if ctx.Err() != nil {
			break
		}
		c.log.Warn("job queue unavailable, retrying", "err", err, "retry_in", b.next())
		b.wait(ctx)
	}
	return ctx.Err()
}

// consumerLoop is the state of one Consume call.
type consumerLoop struct {
	*Worker
	group, name string
	handle      func(context.Context, Job) error
	log         *slog.Logger
	nextClaim   time.Time
	deferred    sync.WaitGroup // jobs whose handler took over their acknowledgement
}

// ackKey is the context key of a job's deferredAck.
type ackKey struct{}

// deferredAck lets a job's handler keep the job pending after it returns.
type deferredAck struct {
	mu    sync.Mutex
	taken bool
	done  chan struct{}
}

// TakeAck lets a job's handler (the ctx Consume passed it) finish the job
// after returning: Consume then leaves the job pending, and claimed by its
// consumer, until the returned done is called, so that if the process dies
// first another consumer handles the job again. Call done exactly once.
// Outside a handler, TakeAck returns a done that does nothing.
func TakeAck(ctx context.Context) (done func()) {
	d, ok := ctx.Value(ackKey{}).(*deferredAck)
	if !ok {
		return func() {}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.taken = true
	return sync.OnceFunc(func() { close(d.done) })
}

func (d *deferredAck) isTaken() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.taken
}

// poll does one round: when due, claim a job abandoned by a dead consumer
// and handle it; else take the next job and handle it, or wait up to Block
// for one to be queued.
func (c *consumerLoop) poll(ctx context.Context) error {
	if !time.Now().Before(c.nextClaim) {
		e, err := c.store.claimAbandoned(ctx, c.group, c.name, c.opts.ClaimIdle)
		if err != nil {
			return fmt.Errorf("claiming abandoned jobs: %w", err)
		}
		if e != nil { // the next poll looks for another one
			c.log.Info("claimed an abandoned job", "lane", e.lane, "entry", e.ID)
			return c.process(ctx, e)
		}
		c.nextClaim = time.Now().Add(c.opts.ClaimIdle / 2)
	}
	e, err := c.store.dequeue(ctx, c.group, c.name)
	if err != nil {
		return fmt.Errorf("reading jobs: %w", err)
	}
	if e != nil {
		return c.process(ctx, e)
	}
	err = c.store.rdb.BLPop(ctx, c.opts.Block, c.store.queue().bell).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("waiting for jobs: %w", err)
	}
	return nil
}

// process handles one stream entry and acknowledges it, unless handle was
// interrupted by the end of ctx.
func (c *consumerLoop) process(ctx context.Context, e *entry) error {
	job, err := decodeJob(e.XMessage)
	if err != nil {
		c.log.Error("dropping a malformed job", "lane", e.lane, "entry", e.ID, "err", err)
		return c.finish(ctx, e)
	}
	stop := c.keepClaimed(context.WithoutCancel(ctx), e)
	ack := &deferredAck{done: make(chan struct{})}
	err = c.handle(context.WithValue(ctx, ackKey{}, ack), job)
	if err != nil && ctx.Err() != nil {
		stop()
		return ctx.Err() // interrupted: left for another consumer to claim
	}
	if err != nil {
		c.log.Error("job failed", "job_id", job.ID, "kind", job.Kind, "diag_id", job.ConversationID, "err", err)
	}
	if err == nil && ack.isTaken() {
		c.deferred.Go(func() {
			<-ack.done
			stop()
			ackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.ClaimIdle)
			defer cancel()
			_ = c.finish(ackCtx, e)
		})
		return nil
	}
	stop()
	// The job is done even if ctx ended meanwhile: acknowledge it regardless,
	// for as long as it would take another consumer to claim it.
	ackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.ClaimIdle)
	defer cancel()
	return c.finish(ackCtx, e)
}

// keepClaimed resets the entry's idle time every ClaimIdle/3 until stop is
// called, so that no other consumer claims a job still being handled.
func (c *consumerLoop) keepClaimed(ctx context.Context, e *entry) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(c.opts.ClaimIdle / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// Claiming it for ourselves with no minimum idle time resets
			// the idle time; JUSTID leaves the delivery count alone.
			err := c.store.rdb.XClaimJustID(ctx, &redis.XClaimArgs{
				Stream:   e.lane,
				Group:    c.group,
				Consumer: c.name,
				Messages: []string{e.ID},
			}).Err()
			if err != nil && ctx.Err() == nil {
				c.log.Warn("could not keep a job claimed", "lane", e.lane, "entry", e.ID, "err", err)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// finish acknowledges and deletes a handled entry, retrying until Redis
// answers or ctx ends: a job left pending would be handled again.
func (c *consumerLoop) finish(ctx context.Context, e *entry) error {
	var b backoff
	for {
		_, err := c.store.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.XAck(ctx, e.lane, c.group, e.ID)
			p.XDel(ctx, e.lane, e.ID)
			return nil
		})
		if err == nil || redis.HasErrorPrefix(err, "NOGROUP") { // NOGROUP: Redis lost the entry with its group
			return nil
		}
		c.log.Warn("could not acknowledge a job, retrying", "lane", e.lane, "entry", e.ID, "err", err, "retry_in", b.next())
		if err := b.wait(ctx); err != nil {
			return err
		}
	}
}

// backoff is an exponential delay between retries, from 100ms to 5s. The
// zero value is ready to use.
type backoff struct{ delay time.Duration }

// next returns the delay the next wait will use.
func (b *backoff) next() time.Duration {
	if b.delay == 0 {
		return 100 * time.Millisecond
	}
	return b.delay
}

// wait waits for the next delay, then doubles it, or returns ctx.Err() if
// ctx ends first.
func (b *backoff) wait(ctx context.Context) error {
	d := b.next()
	b.delay = min(2*d, 5*time.Second)
	return pause.For(ctx, d)
}

func (b *backoff) reset() { b.delay = 0 }
