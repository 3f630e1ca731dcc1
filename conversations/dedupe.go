package conversations

import (
	"context"
	"fmt"
	"time"
)

// FirstSeen reports whether key of the given kind is seen for the first time
// within ttl, and marks it seen for ttl from now if so; a repeat does not
// extend the mark. Use it to drop Slack redeliveries: kind names the key
// space ("event_id", "envelope_id", "command") and key is the delivery's ID
// or fingerprint, of any length and content. Of concurrent callers with the
// same kind and key, exactly one gets true.
func (s *Store) FirstSeen(ctx context.Context, kind, key string, ttl time.Duration) (bool, error) {
	doing := fmt.Sprintf("recording %s %.64q", kind, key)
	if ttl <= 0 {
		return false, fmt.Errorf("%s: ttl %v is not positive", doing, ttl)
	}
	first, err := s.rdb.SetNX(ctx, s.key("seen", keyPart(kind), keyPart(key)), 1, ttl).Result()
	if err != nil {
		return false, wrap(doing, err)
	}
	return first, nil
}
