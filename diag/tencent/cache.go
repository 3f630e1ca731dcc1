package tencent

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
)

// cacheTTL is how long the replies of the actions that many diagnoses share
// are reused: the account balance, and a security group's rules (by group
// ID; any change this client makes to a group drops them). Concurrent
// identical calls share one request even when the TTL is zero.
var cacheTTL = map[string]time.Duration{
	describeAccountBalance.name:        5 * time.Second,
	describeSecurityGroupPolicies.name: 5 * time.Second,
}

// invalidates maps a mutating action to the cached action whose replies it
// makes stale.
var invalidates = map[string]string{
	createSecurityGroupPolicies.name: describeSecurityGroupPolicies.name,
	deleteSecurityGroupPolicies.name: describeSecurityGroupPolicies.name,
}

// maxCacheEntries bounds the cache; past it, expired entries are dropped.
const maxCacheEntries = 1024

// replyCache shares the replies of cacheable calls for their action's TTL,
// and shares one in-flight request among concurrent identical calls. Only
// successes are kept. It is safe for concurrent use.
type replyCache struct {
	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
}

// cacheKey identifies a call: its action, region and request body.
type cacheKey struct{ action, region, request string }

type cacheEntry struct {
	done    chan struct{} // closed when the fetch has finished
	reply   any
	err     error
	expires time.Time // set when done, on success
}

func newReplyCache() *replyCache {
	return &replyCache{entries: make(map[cacheKey]*cacheEntry)}
}

// get returns the reply to the call key: a fresh cached one, the one in
// flight, or fetch's. fetch runs detached from ctx's cancellation (other
// callers may wait for it) but keeps its values and deadline; ctx bounds
// this caller's wait.
func (rc *replyCache) get(ctx context.Context, key cacheKey, ttl time.Duration, fetch func(context.Context) (any, error)) (any, error) {
	rc.mu.Lock()
	e, ok := rc.entries[key]
	if ok && isDone(e.done) && time.Now().After(e.expires) {
		ok = false
	}
	if !ok {
		e = &cacheEntry{done: make(chan struct{})}
		rc.prune()
		rc.entries[key] = e
		deadline, _ := ctx.Deadline()
		go rc.fill(detach(ctx, deadline), key, e, ttl, fetch)
	}
	rc.mu.Unlock()
	select {
	case <-e.done:
		return e.reply, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// detach returns a context with ctx's values but not its cancellation,
// ending at deadline unless that is zero. Its resources go when it ends.
func detach(ctx context.Context, deadline time.Time) context.Context {
	ctx = context.WithoutCancel(ctx)
	if deadline.IsZero() {
		return ctx
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	context.AfterFunc(ctx, cancel)
	return ctx
}

// fill runs fetch for e; a failure leaves the cache at once.
func (rc *replyCache) fill(ctx context.Context, key cacheKey, e *cacheEntry, ttl time.Duration, fetch func(context.Context) (any, error)) {
	reply, err := fetch(ctx)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	e.reply, e.err, e.expires = reply, err, time.Now().Add(ttl)
	if err != nil && rc.entries[key] == e {
		delete(rc.entries, key)
	}
	close(e.done)
}

// invalidate drops every finished entry of action, so that the next call
// asks the provider again.
func (rc *replyCache) invalidate(action string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for k, e := range rc.entries {
		if k.action == action && isDone(e.done) {
			delete(rc.entries, k)
		}
	}
}

// prune drops expired entries once the cache is full. rc.mu must be held.
func (rc *replyCache) prune() {
	if len(rc.entries) < maxCacheEntries {
		return
	}
	now := time.Now()
	for k, e := range rc.entries {
		if isDone(e.done) && now.After(e.expires) {
			delete(rc.entries, k)
		}
	}
}

func isDone(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// call makes a logical API call (see callProvider) through c's reply cache
// when op's replies are shared (cacheTTL), and drops the cached replies op
// makes stale once it has been tried.
func call[Req, Reply any](ctx context.Context, c *Client, op action, region string,
	send func(context.Context, Req) (Reply, error), req Req) (Reply, error) {
	if stale, ok := invalidates[op.name]; ok {
		// Even a failure (a version conflict, say) may mean the group changed.
		defer c.cache.invalidate(stale)
	}
	ttl, ok := cacheTTL[op.name]
	body, err := json.Marshal(req)
	if !ok || err != nil {
		return callProvider(ctx, c, op, region, send, req)
	}
	reply, err := c.cache.get(ctx, cacheKey{op.name, region, string(body)}, ttl, func(ctx context.Context) (any, error) {
		return callProvider(ctx, c, op, region, send, req)
	})
	if err != nil {
		var zero Reply
		var apiErr *diag.APIError
		if !errors.As(err, &apiErr) {
			err = apiError(ctx, op, err, 0) // this caller's context ended
		}
		return zero, err
	}
	return reply.(Reply), nil
}
