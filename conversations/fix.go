package conversations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cvmlogin/cvmlogin/diag"
)

// fixTransitions lists, for each status of a fix request (the
// diag.FixStatus words), the statuses it may move to. A request starts
// requested; a requested request whose ExpiresAt has passed reads as expired.
var fixTransitions = map[diag.FixStatus][]diag.FixStatus{
	diag.FixRequested: {diag.FixApproved, diag.FixRejected, diag.FixExpired},
	diag.FixApproved:  {diag.FixRunning},
	diag.FixRunning:   {diag.FixSucceeded, diag.FixFailed},
}

// fixRetentionAfterExpiry is how long a fix request outlives its approval
// window, at least.
const fixRetentionAfterExpiry = 24 * time.Hour

// maxCASAttempts bounds Transition's read-modify-write retries. Every
// successful write changes the status along an acyclic lifecycle, so a
// caller loses at most a few races before it sees a status it did not expect.
const maxCASAttempts = 10

// FixRequest is a request to apply a fix action, and its fate.
type FixRequest struct {
	ID              string            `json:"id"`
	Action          string            `json:"action"` // a diag.FixAction
	ConversationID  string            `json:"conversation_id"`
	Channel         string            `json:"channel"`
	InstanceID      string            `json:"instance_id"`
	Region          string            `json:"region"`
	SecurityGroupID string            `json:"security_group_id,omitempty"`
	Port            int               `json:"port,omitempty"`
	Requester       string            `json:"requester"`          // the Slack user who pressed the fix button
	Approver        string            `json:"approver,omitempty"` // the Slack user who approved or rejected it
	Status          diag.FixStatus    `json:"status"`
	CreatedAt       time.Time         `json:"created_at"`
	ExpiresAt       time.Time         `json:"expires_at"` // the end of the approval window
	DecidedAt       time.Time         `json:"decided_at"` // approved, rejected or expired
	StartedAt       time.Time         `json:"started_at"`
	FinishedAt      time.Time         `json:"finished_at"`
	Outcome         string            `json:"outcome,omitempty"` // what the fix did, or why it failed
	Params          map[string]string `json:"params,omitempty"`
	// Plan is exactly what the approval request showed, and what runs once
	// approved: the approver approves this plan, not whatever a newer
	// diagnosis would plan.
	Plan *diag.FixPlan `json:"plan,omitempty"`
}

// effectiveStatus returns fr's status as of now: a requested request past
// its ExpiresAt is expired.
func (fr FixRequest) effectiveStatus(now time.Time) diag.FixStatus {
	if fr.Status == diag.FixRequested && !now.Before(fr.ExpiresAt) {
		return diag.FixExpired
	}
	return fr.Status
}

// retention is how long fr's key lives: the conversation TTL, or a day past
// the approval window if that is longer.
func (s *Store) retention(fr FixRequest) time.Duration {
	return max(s.opts.TTL, fr.ExpiresAt.Sub(fr.CreatedAt)+fixRetentionAfterExpiry)
}

// CreateFixRequest stores a new fix request that must be decided within ttl,
// and returns it as stored: with a new ID if fr.ID was empty, status
// requested, CreatedAt now if zero, and ExpiresAt CreatedAt + ttl. It
// returns ErrConflict if a request with that ID exists.
func (s *Store) CreateFixRequest(ctx context.Context, fr FixRequest, ttl time.Duration) (FixRequest, error) {
	if fr.ID == "" {
		fr.ID = NewID()
	}
	doing := fmt.Sprintf("creating %s fix request %s", fr.Action, fr.ID)
	switch {
	case !validID(fr.ID):
		return FixRequest{}, fmt.Errorf("%s: invalid ID", doing)
	case ttl <= 0:
		return FixRequest{}, fmt.Errorf("%s: ttl %v is not positive", doing, ttl)
	}
	if fr.CreatedAt.IsZero() {
		fr.CreatedAt = s.now()
	}
	fr.Status = diag.FixRequested
	fr.ExpiresAt = fr.CreatedAt.Add(ttl)
	data, err := json.Marshal(fr)
	if err != nil {
		return FixRequest{}, fmt.Errorf("%s: %w", doing, err)
	}
	created, err := s.rdb.SetNX(ctx, s.tagged("fix", fr.ID), data, s.retention(fr)).Result()
	if err != nil {
		return FixRequest{}, wrap(doing, err)
	}
	if !created {
		return FixRequest{}, fmt.Errorf("%s: %w: it exists", doing, ErrConflict)
	}
	if err := s.scheduleExpiry(ctx, fr); err != nil {
		return FixRequest{}, wrap(doing, err)
	}
	return fr, nil
}

// scheduleExpiry indexes fr by the end of its approval window, for
// ExpireDue.
func (s *Store) scheduleExpiry(ctx context.Context, fr FixRequest) error {
	key := s.key("fixes", "expiring")
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, key, redis.Z{Score: float64(fr.ExpiresAt.UnixMilli()), Member: fr.ID})
		p.PExpire(ctx, key, s.retention(fr))
		return nil
	})
	return err
}

// expiryBatch bounds how many requests one ExpireDue call handles.
const expiryBatch = 100

// ExpireDue moves every requested fix request whose approval window has
// passed to expired, and returns the ones this call moved: with several
// replicas sweeping, each request is returned to exactly one of them.
// Requests decided in time simply leave the index.
func (s *Store) ExpireDue(ctx context.Context) ([]FixRequest, error) {
	const doing = "expiring fix requests"
	key := s.key("fixes", "expiring")
	due, err := s.rdb.ZRangeByScore(ctx, key, &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(s.now().UnixMilli(), 10), Count: expiryBatch,
	}).Result()
	if err != nil {
		return nil, wrap(doing, err)
	}
	var expired []FixRequest
	for _, id := range due {
		fr, err := s.Transition(ctx, id, diag.FixRequested, diag.FixExpired, nil)
		switch {
		case err == nil:
			expired = append(expired, fr)
		case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound):
			// Decided in time, expired by another replica, or gone.
		default:
			return expired, err
		}
		if err := s.rdb.ZRem(ctx, key, id).Err(); err != nil {
			return expired, wrap(doing, err)
		}
	}
	return expired, nil
}

// FixRequest returns fix request id. A requested request whose approval
// window has passed is returned with status expired. It returns ErrNotFound
// if there is none.
func (s *Store) FixRequest(ctx context.Context, id string) (FixRequest, error) {
	fr, _, err := s.readFixRequest(ctx, "reading fix request "+id, id)
	if err != nil {
		return FixRequest{}, err
	}
	fr.Status = fr.effectiveStatus(s.now())
	return fr, nil
}

// readFixRequest returns the stored request and its encoding.
func (s *Store) readFixRequest(ctx context.Context, doing, id string) (FixRequest, string, error) {
	if !validID(id) {
		return FixRequest{}, "", fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	data, err := s.rdb.Get(ctx, s.tagged("fix", id)).Result()
	if errors.Is(err, redis.Nil) {
		return FixRequest{}, "", fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	if err != nil {
		return FixRequest{}, "", wrap(doing, err)
	}
	var fr FixRequest
	if err := json.Unmarshal([]byte(data), &fr); err != nil {
		return FixRequest{}, "", fmt.Errorf("%s: decoding: %w", doing, err)
	}
	return fr, data, nil
}

// compareAndSet replaces KEYS[1] with ARGV[2], TTL ARGV[3] ms, if it still
// holds ARGV[1]. It returns 1 if it did, 0 if the value changed, -1 if the
// key is gone.
var compareAndSet = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`)

// Transition atomically moves fix request id from status from to status to,
// applying mutate (if not nil) to the request on the way, and returns the
// request as stored. It also stamps DecidedAt, StartedAt or FinishedAt, as
// the new status calls for, unless mutate set them.
//
// Of any number of concurrent callers moving the same request from the same
// status, exactly one succeeds; the others get a *ConflictError (matching
// ErrConflict) carrying the status they lost to. Transition returns
// ErrExpired when asked to move a requested request whose approval window
// has passed anywhere but to expired, ErrInvalidTransition for a move the
// lifecycle does not allow, and ErrNotFound if there is no such request.
//
// mutate may run more than once, each time on a fresh copy, when the request
// changes underneath; changes it makes to ID or Status are ignored.
func (s *Store) Transition(ctx context.Context, id string, from, to diag.FixStatus, mutate func(*FixRequest)) (FixRequest, error) {
	doing := fmt.Sprintf("moving fix request %s from %s to %s", id, from, to)
	if !slices.Contains(fixTransitions[from], to) {
		return FixRequest{}, fmt.Errorf("%s: %w", doing, ErrInvalidTransition)
	}
	if to == diag.FixRunning {
		// Indexed before it runs, so that a replica dying right after the
		// move leaves it findable (StrandedFixes drops entries that never ran).
		if err := s.indexRunning(ctx, id); err != nil {
			return FixRequest{}, wrap(doing, err)
		}
	}
	next, err := s.updateFix(ctx, doing, id, func(fr FixRequest, now time.Time) (FixRequest, error) {
		switch current := fr.effectiveStatus(now); {
		case fr.Status != from:
			return fr, fmt.Errorf("%s: %w", doing, &ConflictError{ID: id, Want: from, Current: current})
		case current == diag.FixExpired && to != diag.FixExpired:
			return fr, fmt.Errorf("%s: %w at %s", doing, ErrExpired, fr.ExpiresAt.Format(time.RFC3339))
		}
		return advance(fr, to, now, mutate), nil
	})
	if err == nil && from == diag.FixRunning {
		s.unindexRunning(ctx, id)
	}
	return next, err
}

// SetFixParam sets parameter key of fix request id to value, whatever the
// request's status, and returns ErrNotFound if there is no such request.
func (s *Store) SetFixParam(ctx context.Context, id, key, value string) error {
	_, err := s.updateFix(ctx, fmt.Sprintf("setting %s of fix request %s", key, id), id, func(fr FixRequest, _ time.Time) (FixRequest, error) {
		fr.Params = maps.Clone(fr.Params)
		if fr.Params == nil {
			fr.Params = map[string]string{}
		}
		fr.Params[key] = value
		return fr, nil
	})
	return err
}

// updateFix replaces fix request id with what change makes of it, by
// compare-and-set, reading it again when it changed meanwhile. An error from
// change is returned as is.
func (s *Store) updateFix(ctx context.Context, doing, id string, change func(FixRequest, time.Time) (FixRequest, error)) (FixRequest, error) {
	for range maxCASAttempts {
		fr, old, err := s.readFixRequest(ctx, doing, id)
		if err != nil {
			return FixRequest{}, err
		}
		next, err := change(fr, s.now())
		if err != nil {
			return FixRequest{}, err
		}
		data, err := json.Marshal(next)
		if err != nil {
			return FixRequest{}, fmt.Errorf("%s: %w", doing, err)
		}
		res, err := compareAndSet.Run(ctx, s.rdb, []string{s.tagged("fix", id)}, old, data, s.retention(next).Milliseconds()).Int()
		switch {
		case err != nil:
			return FixRequest{}, wrap(doing, err)
		case res == 1:
			return next, nil
		case res == -1:
			return FixRequest{}, fmt.Errorf("%s: %w", doing, ErrNotFound)
		}
		// The request changed since we read it: read it again.
	}
	return FixRequest{}, fmt.Errorf("%s: still changing after %d attempts", doing, maxCASAttempts)
}

// advance returns a copy of fr moved to status to at now, with mutate applied.
func advance(fr FixRequest, to diag.FixStatus, now time.Time, mutate func(*FixRequest)) FixRequest {
	fr.Params = maps.Clone(fr.Params)
	if mutate != nil {
		id := fr.ID
		mutate(&fr)
		fr.ID = id
	}
	fr.Status = to
	var stamp *time.Time
	switch to {
	case diag.FixApproved, diag.FixRejected, diag.FixExpired:
		stamp = &fr.DecidedAt
	case diag.FixRunning:
		stamp = &fr.StartedAt
	case diag.FixSucceeded, diag.FixFailed:
		stamp = &fr.FinishedAt
	}
	if stamp.IsZero() {
		*stamp = now
	}
	return fr
}

// runningKey indexes the fix requests that were moved to running, until they
// finish: the ones a replica may have to reconcile.
func (s *Store) runningKey() string { return s.key("fixes", "running") }

// leaseKey holds the name of the replica executing or watching a running fix.
func (s *Store) leaseKey(id string) string { return s.tagged("fixlease", id) }

// indexRunning adds fix request id to the running index.
func (s *Store) indexRunning(ctx context.Context, id string) error {
	key := s.runningKey()
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, key, redis.Z{Score: float64(s.now().UnixMilli()), Member: id})
		p.PExpire(ctx, key, max(s.opts.TTL, fixRetentionAfterExpiry))
		return nil
	})
	return err
}

// unindexRunning removes a finished fix request from the running index;
// a failure only leaves an entry StrandedFixes drops later.
func (s *Store) unindexRunning(ctx context.Context, id string) {
	_ = s.rdb.ZRem(ctx, s.runningKey(), id).Err()
}

// AcquireFixLease makes owner the holder of running fix request id's lease
// for ttl, if nobody holds it. Whoever executes or reconciles a running fix
// holds its lease and renews it; when its process dies the lease expires and
// another replica reconciles the fix.
func (s *Store) AcquireFixLease(ctx context.Context, id, owner string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.leaseKey(id), owner, ttl).Result()
	if err != nil {
		return false, wrap("acquiring the lease of fix "+id, err)
	}
	return ok, nil
}

// renewIfOwner extends KEYS[1] by ARGV[2] ms if it holds ARGV[1]; deleteIfOwner
// deletes it if it does. Both return 1 if they did.
var (
	renewIfOwner = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])`)
	deleteIfOwner = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`)
)

// RenewFixLease extends owner's lease of fix request id to ttl from now. It
// returns false when owner no longer holds it.
func (s *Store) RenewFixLease(ctx context.Context, id, owner string, ttl time.Duration) (bool, error) {
	n, err := renewIfOwner.Run(ctx, s.rdb, []string{s.leaseKey(id)}, owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, wrap("renewing the lease of fix "+id, err)
	}
	return n == 1, nil
}

// ReleaseFixLease gives up owner's lease of fix request id, so that another
// replica reconciles the fix at once. It does nothing if owner does not hold it.
func (s *Store) ReleaseFixLease(ctx context.Context, id, owner string) error {
	if err := deleteIfOwner.Run(ctx, s.rdb, []string{s.leaseKey(id)}, owner).Err(); err != nil {
		return wrap("releasing the lease of fix "+id, err)
	}
	return nil
}

// StrandedFixes returns the running fix requests whose lease nobody holds:
// their replica died or handed them over. It drops from the index the
// requests that are no longer running, or never ran.
func (s *Store) StrandedFixes(ctx context.Context) ([]FixRequest, error) {
	const doing = "listing stranded fixes"
	ids, err := s.rdb.ZRange(ctx, s.runningKey(), 0, expiryBatch-1).Result()
	if err != nil {
		return nil, wrap(doing, err)
	}
	var stranded []FixRequest
	for _, id := range ids {
		fr, err := s.FixRequest(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			s.unindexRunning(ctx, id)
			continue
		case err != nil:
			return stranded, err
		case fr.Status != diag.FixRunning:
			if fr.Status != diag.FixApproved { // approved: about to run
				s.unindexRunning(ctx, id)
			}
			continue
		}
		held, err := s.rdb.Exists(ctx, s.leaseKey(id)).Result()
		if err != nil {
			return stranded, wrap(doing, err)
		}
		if held == 0 {
			stranded = append(stranded, fr)
		}
	}
	return stranded, nil
}
