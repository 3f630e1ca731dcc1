package conversations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	// Channel and ThreadTS say where a new conversation lives: a diagnosis
	// job may carry its conversation instead of the caller storing it
	// first, and the worker creates it. Empty for existing conversations.
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

// jobField is the stream entry field holding a Job's JSON.
const jobField = "job"

// Enqueue appends j to the job stream, where one Worker of the consumer
// group will take it. An empty j.ID gets a new one.
func (s *Store) Enqueue(ctx context.Context, j Job) error {
	if j.ID == "" {
		j.ID = NewID()
	}
	doing := fmt.Sprintf("enqueuing %s job %s", j.Kind, j.ID)
	if j.Kind != JobDiagnose && j.Kind != JobFix && j.Kind != JobWatch {
		return fmt.Errorf("%s: unknown kind", doing)
	}
	data, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	key := s.key("jobs")
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: s.opts.JobsMaxLen, Approx: true, Values: []any{jobField, data}})
		p.PExpire(ctx, key, s.opts.TTL)
		return nil
	})
	if err != nil {
		return wrap(doing, err)
	}
	return nil
}

// QueueDepth returns the number of jobs in the job stream (XLEN): those
// waiting for a worker plus those being handled, since a handled job is
// deleted from the stream when it is acknowledged. A stream that does not
// exist yet has depth 0.
func (s *Store) QueueDepth(ctx context.Context) (int64, error) {
	n, err := s.rdb.XLen(ctx, s.key("jobs")).Result()
	if err != nil {
		return 0, wrap("reading the job queue's length", err)
	}
	return n, nil
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
	// Block is how long one read waits for a new job (2s). Consume notices
	// that its context is done within about this long.
	Block time.Duration
	// ClaimIdle is how long a job may sit unacknowledged, its consumer
	// silent, before another consumer takes it over (30s). A consumer
	// handling a job keeps it from going idle, however long it takes.
	ClaimIdle time.Duration
	// Logger receives failures; slog.Default() if nil.
	Logger *slog.Logger
}

// Worker takes jobs from the job stream. It is safe for concurrent use:
// run one Consume per job to handle in parallel, each with its own consumer
// name.
type Worker struct {
	store *Store
	opts  WorkerOptions
}

// Worker returns a Worker taking jobs from s's job stream.
func (s *Store) Worker(opts WorkerOptions) *Worker {
	if opts.Block <= 0 {
		opts.Block = 2 * time.Second
	}
	if opts.ClaimIdle <= 0 {
		opts.ClaimIdle = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Worker{store: s, opts: opts}
}

// Consume handles jobs as consumer of the consumer group group (created if
// missing) until ctx is done, then returns ctx.Err(). Jobs are handled one
// at a time, each by exactly one consumer of the group.
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
		if redis.HasErrorPrefix(err, "NOGROUP") {
			c.groupReady = false
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
	groupReady  bool
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

func (c *consumerLoop) stream() string { return c.store.key("jobs") }

// poll does one round: make sure the group exists, claim jobs abandoned by
// dead consumers when due, then wait up to Block for a new job.
func (c *consumerLoop) poll(ctx context.Context) error {
	if !c.groupReady {
		if err := c.createGroup(ctx); err != nil {
			return err
		}
		c.groupReady = true
	}
	if !time.Now().Before(c.nextClaim) {
		if err := c.claimAbandoned(ctx); err != nil {
			return err
		}
		c.nextClaim = time.Now().Add(c.opts.ClaimIdle / 2)
	}
	streams, err := c.store.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group:    c.group,
		Consumer: c.name,
		Streams:  []string{c.stream(), ">"},
		Count:    1,
		Block:    c.opts.Block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading jobs: %w", err)
	}
	for _, st := range streams {
		for _, m := range st.Messages {
			if err := c.process(ctx, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// createGroup creates the consumer group, and the stream if missing, reading
// from the start of the stream so that no job queued before is missed.
func (c *consumerLoop) createGroup(ctx context.Context) error {
	rdb := c.store.rdb
	err := rdb.XGroupCreateMkStream(ctx, c.stream(), c.group, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("creating consumer group %s: %w", c.group, err)
	}
	if err := rdb.PExpire(ctx, c.stream(), c.store.opts.TTL).Err(); err != nil {
		return fmt.Errorf("setting the job stream's TTL: %w", err)
	}
	return nil
}

// claimAbandoned takes over and handles the jobs idle for ClaimIdle.
func (c *consumerLoop) claimAbandoned(ctx context.Context) error {
	start := "0-0"
	for {
		msgs, next, err := c.store.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream:   c.stream(),
			Group:    c.group,
			Consumer: c.name,
			MinIdle:  c.opts.ClaimIdle,
			Start:    start,
			Count:    10,
		}).Result()
		if err != nil {
			return fmt.Errorf("claiming abandoned jobs: %w", err)
		}
		for _, m := range msgs {
			c.log.Info("claimed an abandoned job", "entry", m.ID)
			if err := c.process(ctx, m); err != nil {
				return err
			}
		}
		if next == "0-0" {
			return nil
		}
		start = next
	}
}

// process handles one stream entry and acknowledges it, unless handle was
// interrupted by the end of ctx.
func (c *consumerLoop) process(ctx context.Context, m redis.XMessage) error {
	job, err := decodeJob(m)
	if err != nil {
		c.log.Error("dropping a malformed job", "entry", m.ID, "err", err)
		return c.finish(ctx, m.ID)
	}
	stop := c.keepClaimed(context.WithoutCancel(ctx), m.ID)
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
			_ = c.finish(ackCtx, m.ID)
		})
		return nil
	}
	stop()
	// The job is done even if ctx ended meanwhile: acknowledge it regardless,
	// for as long as it would take another consumer to claim it.
	ackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.ClaimIdle)
	defer cancel()
	return c.finish(ackCtx, m.ID)
}

// keepClaimed resets the entry's idle time every ClaimIdle/3 until stop is
// called, so that no other consumer claims a job still being handled.
func (c *consumerLoop) keepClaimed(ctx context.Context, id string) (stop func()) {
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
				Stream:   c.stream(),
				Group:    c.group,
				Consumer: c.name,
				Messages: []string{id},
			}).Err()
			if err != nil && ctx.Err() == nil {
				c.log.Warn("could not keep a job claimed", "entry", id, "err", err)
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
func (c *consumerLoop) finish(ctx context.Context, id string) error {
	var b backoff
	for {
		_, err := c.store.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.XAck(ctx, c.stream(), c.group, id)
			p.XDel(ctx, c.stream(), id)
			return nil
		})
		if err == nil || redis.HasErrorPrefix(err, "NOGROUP") { // NOGROUP: Redis lost the entry with its group
			return nil
		}
		c.log.Warn("could not acknowledge a job, retrying", "entry", id, "err", err, "retry_in", b.next())
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
