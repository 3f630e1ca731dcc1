package conversations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Ref is the state behind an opaque Slack button value: what pressing the
// button means. Button values themselves are only Ref IDs, so users cannot
// forge instance IDs or commands into them.
type Ref struct {
	Action         string `json:"action"` // the button's action, e.g. "open_all_ports", "approve"
	ConversationID string `json:"conversation_id"`
	Channel        string `json:"channel"`
	FixRequestID   string `json:"fix_request_id,omitempty"` // for approve and reject
}

// CreateRef stores r for Options.TTL and returns its new random ID (see
// NewID), to be used as a button value.
func (s *Store) CreateRef(ctx context.Context, r Ref) (string, error) {
	doing := fmt.Sprintf("storing the %s button of conversation %s", r.Action, r.ConversationID)
	if r.Action == "" {
		return "", fmt.Errorf("%s: no action", doing)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("%s: %w", doing, err)
	}
	id := NewID()
	if err := s.rdb.Set(ctx, s.key("ref", id), data, s.opts.TTL).Err(); err != nil {
		return "", wrap(doing, err)
	}
	return id, nil
}

// ResolveRef returns the Ref with the given ID. id comes from Slack and may
// be anything; an ID that is malformed, unknown or expired gets ErrNotFound,
// and a malformed one is rejected before Redis sees it.
func (s *Store) ResolveRef(ctx context.Context, id string) (Ref, error) {
	const doing = "resolving a button value"
	if !validID(id) {
		return Ref{}, fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	data, err := s.rdb.Get(ctx, s.key("ref", id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Ref{}, fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	if err != nil {
		return Ref{}, wrap(doing, err)
	}
	var r Ref
	if err := json.Unmarshal(data, &r); err != nil {
		return Ref{}, fmt.Errorf("%s: decoding: %w", doing, err)
	}
	return r, nil
}
