package conversations

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// LogEntry is one line of a conversation's log: what happened during the
// diagnosis and its fixes, for the thread and for export.
type LogEntry struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"` // e.g. "check", "api", "fix"
	Text string    `json:"text"`
}

// AppendLog appends e to the log of conversation id, dropping the oldest
// entries beyond Options.LogLimit. A zero e.Time becomes now.
func (s *Store) AppendLog(ctx context.Context, id string, e LogEntry) error {
	doing := "appending to the log of conversation " + id
	if !validID(id) {
		return fmt.Errorf("%s: invalid ID %q", doing, id)
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	key := s.tagged("log", id)
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, key, data)
		p.LTrim(ctx, key, int64(-s.opts.LogLimit), -1)
		p.PExpire(ctx, key, s.opts.TTL)
		return nil
	})
	if err != nil {
		return wrap(doing, err)
	}
	return nil
}

// Log returns the log of conversation id, oldest entry first; it is empty
// when there is none.
func (s *Store) Log(ctx context.Context, id string) ([]LogEntry, error) {
	doing := "reading the log of conversation " + id
	if !validID(id) {
		return nil, nil
	}
	lines, err := s.rdb.LRange(ctx, s.tagged("log", id), 0, -1).Result()
	if err != nil {
		return nil, wrap(doing, err)
	}
	entries := make([]LogEntry, len(lines))
	for i, line := range lines {
		if err := json.Unmarshal([]byte(line), &entries[i]); err != nil {
			return nil, fmt.Errorf("%s: decoding entry %d: %w", doing, i, err)
		}
	}
	return entries, nil
}
