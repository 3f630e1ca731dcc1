package conversations

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The statuses of a conversation's diagnosis.
const (
	ConversationRunning = "running"
	ConversationDone    = "done"
	ConversationFailed  = "failed"
)

// Conversation is one diagnosis and the Slack messages that carry it.
type Conversation struct {
	ID        string // the diagnosis ID: random, URL-safe, 16 to 64 characters (see NewID)
	Channel   string // the Slack channel
	ThreadTS  string // the thread the report lives in, if it was asked for in one
	MessageTS string // the report message, once posted
	Requester string // the Slack user who asked
	Target    string // what the user typed: instance ID, public IP or name
	Region    string
	Port      int    // the login port asked for, 0 for the instance's default
	Symptom   string // the error message the user saw, "" when none
	Trigger   string // what asked when no person did (an alarm), "" otherwise
	CreatedAt time.Time
	Status    string // ConversationRunning, ConversationDone or ConversationFailed
	// OpenPortsFix is the fix request whose security-group rules are open
	// now, so that undo_open_ports knows what to delete; "" when none.
	OpenPortsFix string
	// GuestFirewallFix is the open_guest_firewall fix whose rule is in the
	// guest's firewall now, so that undo_guest_firewall knows; "" when none.
	GuestFirewallFix string
}

func (c Conversation) fields() []any {
	return []any{
		"id", c.ID,
		"channel", c.Channel,
		"thread_ts", c.ThreadTS,
		"message_ts", c.MessageTS,
		"requester", c.Requester,
		"target", c.Target,
		"region", c.Region,
		"port", c.Port,
		"symptom", c.Symptom,
		"trigger", c.Trigger,
		"created_at", c.CreatedAt.UTC().Format(time.RFC3339Nano),
		"status", c.Status,
		"open_ports_fix", c.OpenPortsFix,
		"guest_firewall_fix", c.GuestFirewallFix,
	}
}

func conversationFromFields(f map[string]string) (Conversation, error) {
	c := Conversation{
		ID:        f["id"],
		Channel:   f["channel"],
		ThreadTS:  f["thread_ts"],
		MessageTS: f["message_ts"],
		Requester: f["requester"],
		Target:    f["target"],
		Region:    f["region"],
		Symptom:   f["symptom"],
		Trigger:   f["trigger"],
		Status:    f["status"],

		OpenPortsFix:     f["open_ports_fix"],
		GuestFirewallFix: f["guest_firewall_fix"],
	}
	var err error
	if c.Port, err = strconv.Atoi(f["port"]); err != nil {
		return Conversation{}, fmt.Errorf("decoding port: %w", err)
	}
	if c.CreatedAt, err = time.Parse(time.RFC3339Nano, f["created_at"]); err != nil {
		return Conversation{}, fmt.Errorf("decoding created_at: %w", err)
	}
	return c, nil
}

// writeHash sets fields of the hash KEYS[1] and its TTL (ARGV[2], ms), but
// only if the key's existence (0 or 1) is ARGV[1]; it returns 1 if it wrote.
var writeHash = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`)

// writeConversation runs writeHash on conversation id; exists says whether
// the conversation must already exist (an update) or must not (a creation).
func (s *Store) writeConversation(ctx context.Context, id string, exists bool, fields ...any) (bool, error) {
	flag := 0
	if exists {
		flag = 1
	}
	args := append([]any{flag, s.opts.TTL.Milliseconds()}, fields...)
	n, err := writeHash.Run(ctx, s.rdb, []string{s.tagged("conv", id)}, args...).Int()
	return n == 1, err
}

// CreateConversation stores a new conversation and, when it has a thread or
// message timestamp, indexes it by channel and thread. c.ID must be set (use
// NewID); a zero CreatedAt becomes now and an empty Status running. It
// returns ErrConflict if a conversation with that ID exists.
func (s *Store) CreateConversation(ctx context.Context, c Conversation) error {
	if !validID(c.ID) {
		return fmt.Errorf("creating conversation: invalid ID %q: use NewID", c.ID)
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.now()
	}
	if c.Status == "" {
		c.Status = ConversationRunning
	}
	doing := "creating conversation " + c.ID
	created, err := s.writeConversation(ctx, c.ID, false, c.fields()...)
	if err != nil {
		return wrap(doing, err)
	}
	if !created {
		return fmt.Errorf("%s: %w: it exists", doing, ErrConflict)
	}
	return nil
}

// Conversation returns conversation id. It returns ErrNotFound if there is
// none.
func (s *Store) Conversation(ctx context.Context, id string) (Conversation, error) {
	doing := "reading conversation " + id
	if !validID(id) {
		return Conversation{}, fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	f, err := s.rdb.HGetAll(ctx, s.tagged("conv", id)).Result()
	if err != nil {
		return Conversation{}, wrap(doing, err)
	}
	if len(f) == 0 {
		return Conversation{}, fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	c, err := conversationFromFields(f)
	if err != nil {
		return Conversation{}, fmt.Errorf("%s: %w", doing, err)
	}
	return c, nil
}

// SetMessage records where the conversation's report message was posted:
// its channel, timestamp and thread. It returns ErrNotFound if the
// conversation does not exist.
func (s *Store) SetMessage(ctx context.Context, id, channel, messageTS, threadTS string) error {
	return s.update(ctx, "recording the message of conversation "+id, id, "channel", channel, "message_ts", messageTS, "thread_ts", threadTS)
}

// SetStatus sets the conversation's status: ConversationRunning,
// ConversationDone or ConversationFailed. It returns ErrNotFound if the
// conversation does not exist.
func (s *Store) SetStatus(ctx context.Context, id, status string) error {
	doing := "setting the status of conversation " + id
	switch status {
	case ConversationRunning, ConversationDone, ConversationFailed:
	default:
		return fmt.Errorf("%s: unknown status %q", doing, status)
	}
	return s.update(ctx, doing, id, "status", status)
}

// SetSymptom records the error message the user saw ("" for none), which
// the conversation's next diagnosis classifies. It returns ErrNotFound if the
// conversation does not exist.
func (s *Store) SetSymptom(ctx context.Context, id, symptom string) error {
	return s.update(ctx, "recording the symptom of conversation "+id, id, "symptom", symptom)
}

// SetOpenPortsFix records the fix request whose rules are open now ("" after
// an undo). It returns ErrNotFound if the conversation does not exist.
func (s *Store) SetOpenPortsFix(ctx context.Context, id, fixID string) error {
	return s.update(ctx, "recording the open ports of conversation "+id, id, "open_ports_fix", fixID)
}

// SetGuestFirewallFix records the open_guest_firewall fix whose rule is in
// the guest's firewall now ("" after its undo). It returns ErrNotFound if the
// conversation does not exist.
func (s *Store) SetGuestFirewallFix(ctx context.Context, id, fixID string) error {
	return s.update(ctx, "recording the guest firewall rule of conversation "+id, id, "guest_firewall_fix", fixID)
}

// update sets fields of an existing conversation and renews its TTL.
func (s *Store) update(ctx context.Context, doing, id string, fields ...any) error {
	if !validID(id) {
		return fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	updated, err := s.writeConversation(ctx, id, true, fields...)
	if err != nil {
		return wrap(doing, err)
	}
	if !updated {
		return fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	return nil
}
