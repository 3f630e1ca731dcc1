package conversations

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The job queue is fair across channels: each channel's jobs wait in a lane
// of their own (a stream), and workers take one job from each lane in turn,
// so that a quiet channel's command does not wait behind a busy channel's
// backlog. Approved fixes have a lane served before every other; jobs with
// no channel share a default lane. Every replica's workers share the lanes
// through Redis:
//
//   - each lane is a stream read by the consumer group, as the single job
//     stream used to be, so that a job is delivered to one consumer, stays
//     pending while it is handled and is claimed by another consumer if its
//     own dies;
//   - the ring is a list of the lanes that may hold undelivered jobs, which
//     the workers rotate: the next job comes from the next lane in it. The
//     ringed set says which lanes are in the ring, for Enqueue;
//   - the lanes set indexes every lane holding jobs, waiting or in flight,
//     for the sweep that claims abandoned jobs and for the queue's depth;
//   - the bell is a list a worker with nothing to do blocks on (BLPOP):
//     Enqueue pushes to it, so that a lone job starts at once.
//
// Every one of these keys is in the hash slot of "<prefix>jobs", the default
// lane, so that scripts may touch them together on a Redis Cluster: the
// others carry the hash tag {<prefix>jobs} (Options.Prefix holds no braces),
// while "<prefix>jobs", with no tag, is hashed whole. The default lane keeps
// the name of the single stream of earlier versions, so jobs queued by a
// replica not yet upgraded are still run, and that replica runs jobs of the
// default lane.

// queueKeys are the keys of the job queue's shared state.
type queueKeys struct {
	defaultLane, fixLane string
	ring, ringed, lanes  string
	bell                 string
}

// queue returns the keys of s's job queue.
func (s *Store) queue() queueKeys {
	return queueKeys{
		defaultLane: s.key("jobs"),
		fixLane:     s.queueKey("fix"),
		ring:        s.queueKey("ring"),
		ringed:      s.queueKey("ringed"),
		lanes:       s.queueKey("lanes"),
		bell:        s.queueKey("bell"),
	}
}

// queueKey returns the key "<prefix>jobs:{<prefix>jobs}:<part>", in the
// default lane's hash slot.
func (s *Store) queueKey(part string) string {
	return s.key("jobs", "{"+s.key("jobs")+"}", part)
}

// laneOf returns the lane of a job and whether it takes turns with the other
// lanes in the ring. An approved fix does not: its lane is served first, as
// a person is waiting for it.
func (s *Store) laneOf(j Job) (lane string, ringed bool) {
	switch {
	case j.Kind == JobFix:
		return s.queue().fixLane, false
	case j.Channel == "":
		return s.queue().defaultLane, true
	}
	return s.queueKey("lane:" + keyPart(j.Channel)), true
}

// bellLength caps the bell: Enqueue pushes to it once a job, and a worker
// finding no job empties it.
const bellLength = 1024

// enqueueJob adds a job to its lane, puts the lane in the ring unless it is
// there (or is served before the ring), indexes it, and rings the bell.
// KEYS: lane, ring, ringed, lanes, bell. ARGV: the lane's approximate
// maximum length, the TTL in ms, the entry's field and value, 1 if the lane
// takes turns in the ring (else 0), the bell's length.
var enqueueJob = redis.NewScript(`
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', ARGV[3], ARGV[4])
redis.call('SADD', KEYS[4], KEYS[1])
if ARGV[5] == '1' and redis.call('SADD', KEYS[3], KEYS[1]) == 1 then
  redis.call('RPUSH', KEYS[2], KEYS[1])
end
redis.call('LPUSH', KEYS[5], 1)
redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[6]) - 1)
for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[2]) end
return 1`)

// takeFrom is the Lua function take(lane), shared by the scripts that
// deliver jobs: it delivers the lane's next undelivered entry to consumer
// ARGV[2] of group ARGV[1], creating the group when Redis lost it (from the
// lane's start, so that no job is missed), and returns {lane, id, fields},
// or false when the lane has no undelivered entry.
const takeFrom = `
local function take(lane)
  if redis.call('EXISTS', lane) == 0 then return false end
  local read = {'XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1, 'STREAMS', lane, '>'}
  local r = redis.pcall(unpack(read))
  if type(r) == 'table' and r.err then
    if string.sub(r.err, 1, 7) ~= 'NOGROUP' then error(r.err) end
    redis.call('XGROUP', 'CREATE', lane, ARGV[1], '0')
    r = redis.call(unpack(read))
  end
  if not r or not r[1][2][1] then return false end
  local e = r[1][2][1]
  return {lane, e[1], e[2]}
end
`

// nextJob delivers the next job: the oldest undelivered approved fix, or else
// the next entry of the first lane in the ring that has one, rotating the
// ring past each lane it looks at and dropping from it the lanes found with
// nothing to deliver. With no job anywhere it empties the bell, so that the
// caller's BLPOP waits for the next Enqueue, and returns nil.
// KEYS: fix lane, ring, ringed, bell. ARGV: group, consumer.
var nextJob = redis.NewScript(takeFrom + `
local got = take(KEYS[1])
if got then return got end
for _ = 1, redis.call('LLEN', KEYS[2]) do
  local lane = redis.call('LMOVE', KEYS[2], KEYS[2], 'LEFT', 'RIGHT')
  got = take(lane)
  if got then return got end
  redis.call('LREM', KEYS[2], -1, lane)
  redis.call('SREM', KEYS[3], lane)
end
redis.call('DEL', KEYS[4])
return false`)

// sweepLanes looks at every lane holding jobs (the indexed ones, the default
// lane and the fix lane): it drops empty lanes from the index, puts back in
// the ring a lane with undelivered jobs that is missing from it (a job queued
// by an older version, a ring lost to eviction), and claims for consumer
// ARGV[2] the first job found idle for ARGV[3] ms, returning {lane, id,
// fields}, or false when no job is abandoned.
// KEYS: lanes, ring, ringed, bell, default lane, fix lane. ARGV: group,
// consumer, minimum idle time in ms, TTL in ms.
var sweepLanes = redis.NewScript(`
local function after(a, b)
  local am, as = string.match(a, '(%d+)-(%d+)')
  local bm, bs = string.match(b, '(%d+)-(%d+)')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am > bm or (am == bm and as > bs)
end
local function delivered(lane)
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', lane)) do
    local name, last
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then last = g[i + 1] end
    end
    if name == ARGV[1] then return last end
  end
  return '0-0'
end
local function ringed(lane)
  if redis.call('SISMEMBER', KEYS[3], lane) == 1 and redis.call('LLEN', KEYS[2]) > 0 then return true end
  return redis.call('LPOS', KEYS[2], lane)
end
local function requeue(lane)
  local newest = redis.call('XREVRANGE', lane, '+', '-', 'COUNT', 1)[1][1]
  if not after(newest, delivered(lane)) or ringed(lane) then return end
  redis.call('RPUSH', KEYS[2], lane)
  redis.call('SADD', KEYS[3], lane)
  redis.call('LPUSH', KEYS[4], 1)
  for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
end
local function claim(lane)
  local cursor = '0-0'
  repeat
    local r = redis.pcall('XAUTOCLAIM', lane, ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT', 1)
    if r.err then return false end
    if r[2][1] then return {lane, r[2][1][1], r[2][1][2]} end
    cursor = r[1]
  until cursor == '0-0'
  return false
end
local lanes = redis.call('SMEMBERS', KEYS[1])
table.insert(lanes, KEYS[5])
table.insert(lanes, KEYS[6])
local seen = {}
for _, lane in ipairs(lanes) do
  if not seen[lane] then
    seen[lane] = true
    if redis.call('XLEN', lane) == 0 then
      redis.call('SREM', KEYS[1], lane)
    else
      if lane ~= KEYS[6] then requeue(lane) end
      local got = claim(lane)
      if got then return got end
    end
  end
end
return false`)

// laneLengths returns {lane, length, pending} for every lane holding jobs:
// its stream's length and how many of them are delivered but not yet
// acknowledged. KEYS: lanes, default lane, fix lane.
var laneLengths = redis.NewScript(`
local lanes = redis.call('SMEMBERS', KEYS[1])
table.insert(lanes, KEYS[2])
table.insert(lanes, KEYS[3])
local out, seen = {}, {}
for _, lane in ipairs(lanes) do
  local n = redis.call('XLEN', lane)
  if n > 0 and not seen[lane] then
    seen[lane] = true
    local pending = 0
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', lane)) do
      for i = 1, #g, 2 do
        if g[i] == 'pending' then pending = pending + g[i + 1] end
      end
    end
    table.insert(out, {lane, n, pending})
  end
end
return out`)

// entry is a job's stream entry and the lane it is in.
type entry struct {
	lane string
	redis.XMessage
}

// parseEntry reads the {lane, id, fields} a script returns.
func parseEntry(v any) (*entry, error) {
	a, ok := v.([]any)
	if !ok || len(a) != 3 {
		return nil, fmt.Errorf("unexpected job entry %v", v)
	}
	lane, _ := a[0].(string)
	id, _ := a[1].(string)
	fields, _ := a[2].([]any)
	m := redis.XMessage{ID: id, Values: make(map[string]any, len(fields)/2)}
	for i := 0; i+1 < len(fields); i += 2 {
		k, _ := fields[i].(string)
		m.Values[k] = fields[i+1]
	}
	return &entry{lane: lane, XMessage: m}, nil
}

// runEntryScript runs a script returning an entry or nil.
func (s *Store) runEntryScript(ctx context.Context, script *redis.Script, keys []string, args ...any) (*entry, error) {
	v, err := script.Run(ctx, s.rdb, keys, args...).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseEntry(v)
}

// dequeue delivers the next job to consumer of group, or returns nil when
// no job is waiting.
func (s *Store) dequeue(ctx context.Context, group, consumer string) (*entry, error) {
	q := s.queue()
	return s.runEntryScript(ctx, nextJob, []string{q.fixLane, q.ring, q.ringed, q.bell}, group, consumer)
}

// claimAbandoned claims for consumer of group one job left pending for
// minIdle, or returns nil when there is none; it tidies the lanes on the way.
func (s *Store) claimAbandoned(ctx context.Context, group, consumer string, minIdle time.Duration) (*entry, error) {
	q := s.queue()
	return s.runEntryScript(ctx, sweepLanes, []string{q.lanes, q.ring, q.ringed, q.bell, q.defaultLane, q.fixLane},
		group, consumer, minIdle.Milliseconds(), s.opts.TTL.Milliseconds())
}

// laneLength is how many jobs a lane holds, and how many of them are being
// handled.
type laneLength struct {
	lane            string
	length, pending int64
}

// waiting returns how many of the lane's jobs wait for a worker.
func (l laneLength) waiting() int64 { return max(l.length-l.pending, 0) }

// laneLengths returns the length of every lane holding jobs.
func (s *Store) laneLengths(ctx context.Context) ([]laneLength, error) {
	q := s.queue()
	rows, err := laneLengths.Run(ctx, s.rdb, []string{q.lanes, q.defaultLane, q.fixLane}).Slice()
	if err != nil {
		return nil, err
	}
	out := make([]laneLength, 0, len(rows))
	for _, r := range rows {
		a, ok := r.([]any)
		if !ok || len(a) != 3 {
			return nil, fmt.Errorf("unexpected lane length %v", r)
		}
		lane, _ := a[0].(string)
		length, _ := a[1].(int64)
		pending, _ := a[2].(int64)
		out = append(out, laneLength{lane: lane, length: length, pending: pending})
	}
	return out, nil
}

// position returns how many waiting jobs workers take before a new job in
// lane mine: the approved fixes (served first), the jobs waiting in its lane,
// and from every other lane as many as round-robin takes from it before
// reaching the new job: one more than wait before it in its own lane, at
// most.
func position(lanes []laneLength, mine, fixLane string) int64 {
	var own int64
	for _, l := range lanes {
		if l.lane == mine {
			own = l.waiting()
		}
	}
	var ahead int64
	for _, l := range lanes {
		if l.lane == mine || l.lane == fixLane {
			ahead += l.waiting()
		} else {
			ahead += min(l.waiting(), own+1)
		}
	}
	return ahead
}
