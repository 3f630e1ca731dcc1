package conversations

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limit is one rate limit of a paced API: at most one call per Every on
// average, with bursts of up to Burst calls. Key names what it limits
// within the pacer's scope, e.g. "chat.update" or "chat.postMessage:C0123".
type Limit struct {
	Key   string
	Every time.Duration
	Burst int
}

// tolerance is how far ahead of now the limit's schedule may run: the
// burst it allows beyond the steady rate.
func (l Limit) tolerance() time.Duration { return time.Duration(max(l.Burst, 1)-1) * l.Every }

// reserveSlot is GCRA over several limits at once, on Redis's clock so that
// every replica agrees. KEYS are the limits' theoretical arrival times (TAT,
// ms); ARGV[1] is the longest wait the caller accepts in ms (-1: any), then
// each limit's interval and tolerance in ms. It returns {reserved, wait_ms}:
// the call may go at now + wait_ms, under every limit. A wait beyond ARGV[1]
// reserves nothing: callers book only slots near enough (see Reserve).
var reserveSlot = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxWait = tonumber(ARGV[1])
local start = now
local tats = {}
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  tats[i] = tat
  local allowAt = tat - tonumber(ARGV[2*i + 1])
  if allowAt > start then start = allowAt end
end
local wait = start - now
if maxWait >= 0 and wait > maxWait then return {0, wait} end
for i, key in ipairs(KEYS) do
  local tat = tats[i]
  if tat < start then tat = start end
  tat = tat + tonumber(ARGV[2*i])
  redis.call('SET', key, tat, 'PX', tat - now + 1000)
end
return {1, wait}`)

// holdOff pushes one limit's schedule so that its next call goes no earlier
// than now + ARGV[1] ms; ARGV[2] is its tolerance in ms. It returns nothing.
var holdOff = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = now + tonumber(ARGV[1]) + tonumber(ARGV[2])
local old = tonumber(redis.call('GET', KEYS[1]) or 0)
if old < tat then redis.call('SET', KEYS[1], tat, 'PX', tat - now + 1000) end
return 0`)

// Pacer spaces calls to a rate-limited API across every replica sharing
// Redis: each call first reserves a slot under all the limits that apply to
// it, and waits until then. The schedules live in Redis (GCRA, one key per
// limit), so that N replicas together keep to the limits one would.
type Pacer struct {
	store *Store
}

// Pacer returns a Pacer keeping its schedules in s's Redis.
func (s *Store) Pacer() *Pacer { return &Pacer{store: s} }

// paceKey names a limit's schedule. Every limit of one scope shares a hash
// tag, so one script may touch several in Redis Cluster.
func (p *Pacer) paceKey(scope, key string) string {
	return p.store.tagged("pace", keyPart(scope)) + ":" + keyPart(key)
}

// Reserve books the next slot that every limit of scope allows and returns
// how long the caller must wait before making its call. When that wait
// would exceed maxWait (maxWait < 0: no bound), nothing is booked and ok is
// false, with the wait it would have been. Callers pass a short maxWait
// and come back later when the wait is longer: a slot booked far ahead
// under a busy channel's limit would also hold the workspace's limit that
// far ahead, stalling every other channel. Callers whose calls can be
// dropped, such as progress updates, pass 0.
func (p *Pacer) Reserve(ctx context.Context, scope string, limits []Limit, maxWait time.Duration) (wait time.Duration, ok bool, err error) {
	keys := make([]string, len(limits))
	args := []any{maxWait.Milliseconds()}
	if maxWait < 0 {
		args[0] = -1
	}
	for i, l := range limits {
		keys[i] = p.paceKey(scope, l.Key)
		args = append(args, max(l.Every.Milliseconds(), 1), l.tolerance().Milliseconds())
	}
	res, err := reserveSlot.Run(ctx, p.store.rdb, keys, args...).Int64Slice()
	if err != nil {
		return 0, false, wrap(fmt.Sprintf("reserving a %s call slot", scope), err)
	}
	if len(res) != 2 {
		return 0, false, fmt.Errorf("reserving a %s call slot: unexpected reply %v", scope, res)
	}
	return time.Duration(res[1]) * time.Millisecond, res[0] == 1, nil
}

// HoldOff makes every replica wait at least d before its next call under
// l, as the API's Retry-After demands.
func (p *Pacer) HoldOff(ctx context.Context, scope string, l Limit, d time.Duration) error {
	err := holdOff.Run(ctx, p.store.rdb, []string{p.paceKey(scope, l.Key)}, d.Milliseconds(), l.tolerance().Milliseconds()).Err()
	if err != nil {
		return wrap(fmt.Sprintf("holding off %s calls", l.Key), err)
	}
	return nil
}
