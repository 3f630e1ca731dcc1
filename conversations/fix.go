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
)

// The statuses of a fix request. A request starts requested and moves along
//
//	requested → approved | rejected | expired
//	approved  → running
//	running   → succeeded | failed
//
// A requested request whose ExpiresAt has passed reads as expired.
const (
	FixRequested = "requested"
	FixApproved  = "approved"
	FixRejected  = "rejected"
	FixExpired   = "expired"
	FixRunning   = "running"
	FixSucceeded = "succeeded"
	FixFailed    = "failed"
)

// fixTransitions lists, for each status, the statuses it may move to.
var fixTransitions = map[string][]string{
	FixRequested: {FixApproved, FixRejected, FixExpired},
	FixApproved:  {FixRunning},
	FixRunning:   {FixSucceeded, FixFailed},
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
	Status          string            `json:"status"`
	CreatedAt       time.Time         `json:"created_at"`
	ExpiresAt       time.Time         `json:"expires_at"` // the end of the approval window
	DecidedAt       time.Time         `json:"decided_at"` // approved, rejected or expired
	StartedAt       time.Time         `json:"started_at"`
	FinishedAt      time.Time         `json:"finished_at"`
	Outcome         string            `json:"outcome,omitempty"` // what the fix did, or why it failed
	Params          map[string]string `json:"params,omitempty"`
}

// effectiveStatus returns fr's status as of now: a requested request past
// its ExpiresAt is expired.
func (fr FixRequest) effectiveStatus(now time.Time) string {
	if fr.Status == FixRequested && !now.Before(fr.ExpiresAt) {
		return FixExpired
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
	fr.Status = FixRequested
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
		fr, err := s.Transition(ctx, id, FixRequested, FixExpired, nil)
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
func (s *Store) Transition(ctx context.Context, id, from, to string, mutate func(*FixRequest)) (FixRequest, error) {
	doing := fmt.Sprintf("moving fix request %s from %s to %s", id, from, to)
	if !slices.Contains(fixTransitions[from], to) {
		return FixRequest{}, fmt.Errorf("%s: %w", doing, ErrInvalidTransition)
	}
	for range maxCASAttempts {
		fr, old, err := s.readFixRequest(ctx, doing, id)
		if err != nil {
			return FixRequest{}, err
		}
		now := s.now()
		switch current := fr.effectiveStatus(now); {
		case fr.Status != from:
			return FixRequest{}, fmt.Errorf("%s: %w", doing, &ConflictError{ID: id, Want: from, Current: current})
		case current == FixExpired && to != FixExpired:
			return FixRequest{}, fmt.Errorf("%s: %w at %s", doing, ErrExpired, fr.ExpiresAt.Format(time.RFC3339))
		}
		next := advance(fr, to, now, mutate)
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
func advance(fr FixRequest, to string, now time.Time, mutate func(*FixRequest)) FixRequest {
	fr.Params = maps.Clone(fr.Params)
	if mutate != nil {
		id := fr.ID
		mutate(&fr)
		fr.ID = id
	}
	fr.Status = to
	var stamp *time.Time
	switch to {
	case FixApproved, FixRejected, FixExpired:
		stamp = &fr.DecidedAt
	case FixRunning:
		stamp = &fr.StartedAt
	case FixSucceeded, FixFailed:
		stamp = &fr.FinishedAt
	}
	if stamp.IsZero() {
		*stamp = now
	}
	return fr
}
