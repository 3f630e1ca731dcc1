package conversations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cvmlogin/cvmlogin/internal/pause"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// The defaults of RateLimiterOptions.
const (
	DefaultRateGuard   = 50 * time.Millisecond
	DefaultRateMaxWait = time.Minute
)

// ErrNoRateSlot is returned by RateLimiter.Wait when the budget has no slot
// left before the context's deadline.
var ErrNoRateSlot = errors.New("the rate budget has no slot before the deadline")

// RateLimiterOptions configures a RateLimiter. Zero fields take defaults.
type RateLimiterOptions struct {
	// Budgets is each action's budget in calls per second. Wait refuses an
	// action without one.
	Budgets map[string]int
	// Guard is how close to the end of a second a call is no longer granted
	// in that second but in the next one (50ms): a call granted at the very
	// end of a second could reach the provider in the next one, whose
	// budget may be spent already.
	Guard time.Duration
	// MaxWait bounds the wait for a slot (1m), also when the context's
	// deadline is later.
	MaxWait time.Duration
	// Logger hears when Redis fails and the limiter falls back to a budget
	// per process; slog.Default() if nil.
	Logger *slog.Logger
}

// RateLimiter spends per-account, per-action budgets of calls per second,
// shared by every process using the same Redis and key prefix: however many
// replicas call, the calls granted in any one second (by Redis's clock) never
// exceed the budget. Waiters are granted in order of arrival; one that cannot
// be granted a slot before its deadline fails at once instead of waiting in
// vain. When Redis fails, each process falls back to the whole budget for
// itself until Redis answers again. It implements tencent.Limiter and is
// safe for concurrent use.
type RateLimiter struct {
	store    *Store
	opts     RateLimiterOptions
	local    map[string]*rate.Limiter // the fallback, by action
	degraded atomic.Bool              // Redis failed on the last call
}

// RateLimiter returns a RateLimiter keeping its counts in s's Redis.
func (s *Store) RateLimiter(opts RateLimiterOptions) *RateLimiter {
	if opts.Guard <= 0 {
		opts.Guard = DefaultRateGuard
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultRateMaxWait
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	local := make(map[string]*rate.Limiter, len(opts.Budgets))
	for action, perSecond := range opts.Budgets {
		local[action] = rate.NewLimiter(rate.Limit(perSecond), max(1, perSecond/2))
	}
	return &RateLimiter{store: s, opts: opts, local: local}
}

// reserveSecond grants a call in the first second, from now on, whose count in
// the hash KEYS[1] (second → calls granted) is below the budget ARGV[1], at
// most ARGV[2] µs ahead. Within ARGV[3] µs of the end of the current second
// it starts from the next one. It returns {1, second, wait µs} or, when no
// second within reach has room, {0, 0, 0}. Past seconds are dropped, and the
// hash expires shortly after its last granted second.
var reserveSecond = redis.NewScript(`
local t = redis.call('TIME')
local nowSec = tonumber(t[1])
local now = nowSec * 1000000 + tonumber(t[2])
local budget = tonumber(ARGV[1])
local first = nowSec
if tonumber(t[2]) >= 1000000 - tonumber(ARGV[3]) then first = nowSec + 1 end
local last = math.floor((now + tonumber(ARGV[2])) / 1000000)
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if tonumber(f) < nowSec then redis.call('HDEL', KEYS[1], f) end
end
for sec = first, last do
  local n = tonumber(redis.call('HGET', KEYS[1], sec) or '0')
  if n < budget then
    redis.call('HINCRBY', KEYS[1], sec, 1)
    local keep = (sec - nowSec + 2) * 1000
    if redis.call('PTTL', KEYS[1]) < keep then redis.call('PEXPIRE', KEYS[1], keep) end
    local wait = 0
    if sec > nowSec then wait = sec * 1000000 - now end
    return {1, sec, wait}
  end
end
return {0, 0, 0}`)

// slot is a granted call: the second it belongs to and how long to wait for
// it.
type slot struct {
	second int64
	wait   time.Duration
}

// Wait implements tencent.Limiter: it returns once a call to action on
// behalf of account fits the action's budget, after waiting for its second
// if need be. It fails with ErrNoRateSlot when no slot comes before ctx's
// deadline, and with ctx's error when ctx ends.
func (l *RateLimiter) Wait(ctx context.Context, account, action string) error {
	perSecond, ok := l.opts.Budgets[action]
	if !ok {
		return fmt.Errorf("rate limiting %s: no budget for the action", action)
	}
	maxWait := l.opts.MaxWait
	if deadline, ok := ctx.Deadline(); ok {
		maxWait = min(maxWait, time.Until(deadline))
	}
	if maxWait <= 0 {
		return context.DeadlineExceeded
	}
	s, granted, err := l.reserve(ctx, l.key(account, action), perSecond, maxWait)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return l.fallBack(ctx, action, err)
	case !granted:
		return ErrNoRateSlot
	}
	if l.degraded.Swap(false) {
		l.opts.Logger.Info("rate limiter: Redis answers again: budgets are shared by the replicas again")
	}
	return pause.For(ctx, s.wait)
}

// reserve runs reserveSecond.
func (l *RateLimiter) reserve(ctx context.Context, key string, perSecond int, maxWait time.Duration) (slot, bool, error) {
	res, err := reserveSecond.Run(ctx, l.store.rdb, []string{key}, perSecond, maxWait.Microseconds(), l.opts.Guard.Microseconds()).Int64Slice()
	if err != nil {
		return slot{}, false, err
	}
	if len(res) != 3 {
		return slot{}, false, fmt.Errorf("unexpected reply %v", res)
	}
	return slot{second: res[1], wait: time.Duration(res[2]) * time.Microsecond}, res[0] == 1, nil
}

// fallBack waits for the process's own budget, having logged (once per
// outage) that Redis failed.
func (l *RateLimiter) fallBack(ctx context.Context, action string, err error) error {
	if !l.degraded.Swap(true) {
		l.opts.Logger.Warn("rate limiter: Redis failed: each replica spends the whole budget until it answers", "err", err)
	}
	if werr := l.local[action].Wait(ctx); werr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ErrNoRateSlot
	}
	return nil
}

// key is the hash counting account's calls to action. Its hash tag holds
// both, so the key lives in one Cluster slot whatever else is tagged.
func (l *RateLimiter) key(account, action string) string {
	return l.store.opts.Prefix + "ratelimit:{" + keyPart(account) + "/" + keyPart(action) + "}"
}
