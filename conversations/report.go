package conversations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/redis/go-redis/v9"
)

// SaveReport stores r as the latest report of conversation id and returns the
// report it replaces, or nil if it is the first: a re-diagnosis can then show
// what changed. The swap is atomic, so concurrent saves each get a distinct
// previous report.
func (s *Store) SaveReport(ctx context.Context, id string, r *diag.Report) (previous *diag.Report, err error) {
	doing := "saving the report of conversation " + id
	switch {
	case !validID(id):
		return nil, fmt.Errorf("%s: invalid ID %q", doing, id)
	case r == nil:
		return nil, fmt.Errorf("%s: no report", doing)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	old, err := s.rdb.SetArgs(ctx, s.tagged("report", id), data, redis.SetArgs{TTL: s.opts.TTL, Get: true}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(doing, err)
	}
	return decodeReport(doing, old)
}

// Report returns the latest report of conversation id. It returns
// ErrNotFound if there is none.
func (s *Store) Report(ctx context.Context, id string) (*diag.Report, error) {
	doing := "reading the report of conversation " + id
	if !validID(id) {
		return nil, fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	data, err := s.rdb.Get(ctx, s.tagged("report", id)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	if err != nil {
		return nil, wrap(doing, err)
	}
	return decodeReport(doing, data)
}

func decodeReport(doing, data string) (*diag.Report, error) {
	var r diag.Report
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return nil, fmt.Errorf("%s: decoding: %w", doing, err)
	}
	return &r, nil
}
