package conversations

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Event is one entry of the audit trail: who did what to which instance, and
// what came of it.
type Event struct {
	Time         time.Time         `json:"time"`
	Actor        string            `json:"actor"`  // the Slack user ID, or "cvmlogin" for the bot itself
	Action       string            `json:"action"` // e.g. "diagnose", "fix.requested", "fix.approved", "open_all_ports"
	InstanceID   string            `json:"instance_id,omitempty"`
	Region       string            `json:"region,omitempty"`
	Channel      string            `json:"channel,omitempty"` // the Slack channel it happened in
	FixRequestID string            `json:"fix_request_id,omitempty"`
	Params       map[string]string `json:"params,omitempty"`
	Result       string            `json:"result,omitempty"`
	RequestID    string            `json:"request_id,omitempty"` // the Tencent Cloud request ID
}

// auditField is the stream entry field holding an Event's JSON.
const auditField = "event"

// auditPage is how many entries AuditEvents reads per round trip.
const auditPage = 500

// Audit appends e to the audit stream, then trims the stream to about
// Options.AuditMaxLen entries and drops entries older than
// Options.AuditMaxAge. A zero e.Time becomes now.
func (s *Store) Audit(ctx context.Context, e Event) error {
	doing := fmt.Sprintf("auditing %s by %s", e.Action, e.Actor)
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	key := s.key("audit")
	oldest := strconv.FormatInt(s.now().Add(-s.opts.AuditMaxAge).UnixMilli(), 10)
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: s.opts.AuditMaxLen, Approx: true, Values: []any{auditField, data}})
		p.XTrimMinIDApprox(ctx, key, oldest, 0)
		p.PExpire(ctx, key, s.opts.AuditMaxAge)
		return nil
	})
	if err != nil {
		return wrap(doing, err)
	}
	return nil
}

// AuditEvents returns the audit events appended since the given time, oldest
// first; only those about instanceID, unless it is empty.
func (s *Store) AuditEvents(ctx context.Context, since time.Time, instanceID string) ([]Event, error) {
	const doing = "reading the audit stream"
	var events []Event
	start := strconv.FormatInt(max(since.UnixMilli(), 0), 10)
	for {
		msgs, err := s.rdb.XRangeN(ctx, s.key("audit"), start, "+", auditPage).Result()
		if err != nil {
			return nil, wrap(doing, err)
		}
		for _, m := range msgs {
			e, err := decodeEvent(m)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", doing, err)
			}
			if instanceID == "" || e.InstanceID == instanceID {
				events = append(events, e)
			}
		}
		if len(msgs) < auditPage {
			return events, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

func decodeEvent(m redis.XMessage) (Event, error) {
	data, _ := m.Values[auditField].(string)
	var e Event
	if err := json.Unmarshal([]byte(data), &e); err != nil {
		return Event{}, fmt.Errorf("decoding entry %s: %w", m.ID, err)
	}
	return e, nil
}
