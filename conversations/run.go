package conversations

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// acquireRun sets KEYS[1] to ARGV[1] with TTL ARGV[2] ms unless it holds
// another value, and returns {acquired, owner}. The owner re-acquiring
// renews its TTL.
var acquireRun = redis.NewScript(`
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return {0, owner} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, ARGV[1]}`)

// releaseRun deletes KEYS[1] if it holds ARGV[1].
var releaseRun = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// AcquireRun claims the right to diagnose the instance named by instanceKey
// (e.g. region + "/" + instance ID) for conversation conversationID, for at
// most ttl, so that simultaneous requests about one instance share one run.
// It returns acquired true and owner conversationID when the claim is
// granted, including when conversationID already holds it (the TTL is then
// renewed); otherwise acquired false and owner the conversation whose run is
// in progress. Of concurrent callers, exactly one acquires.
func (s *Store) AcquireRun(ctx context.Context, instanceKey, conversationID string, ttl time.Duration) (owner string, acquired bool, err error) {
	doing := fmt.Sprintf("claiming the run on %s for conversation %s", instanceKey, conversationID)
	switch {
	case conversationID == "":
		return "", false, fmt.Errorf("%s: no conversation ID", doing)
	case ttl <= 0:
		return "", false, fmt.Errorf("%s: ttl %v is not positive", doing, ttl)
	}
	res, err := acquireRun.Run(ctx, s.rdb, []string{s.runKey(instanceKey)}, conversationID, ttl.Milliseconds()).Slice()
	if err != nil {
		return "", false, wrap(doing, err)
	}
	if len(res) != 2 {
		return "", false, fmt.Errorf("%s: unexpected reply %v", doing, res)
	}
	granted, _ := res[0].(int64)
	owner, _ = res[1].(string)
	return owner, granted == 1, nil
}

// ReleaseRun ends conversationID's claim on instanceKey. It does nothing if
// another conversation holds the claim (ours expired and was taken over).
func (s *Store) ReleaseRun(ctx context.Context, instanceKey, conversationID string) error {
	if err := releaseRun.Run(ctx, s.rdb, []string{s.runKey(instanceKey)}, conversationID).Err(); err != nil {
		return wrap(fmt.Sprintf("releasing the run on %s for conversation %s", instanceKey, conversationID), err)
	}
	return nil
}

func (s *Store) runKey(instanceKey string) string { return s.key("run", keyPart(instanceKey)) }
