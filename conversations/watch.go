package conversations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Watch is a login watch ("Tell me when login works") kept in Redis, so that
// it outlives the replica running it: its JobWatch job (Job), whose ID is
// the watch's, goes back to the queue when that replica stops (it enqueues
// the job again) or dies (the job queue's ClaimIdle), and whichever replica
// takes the job up resumes the watch from this record, with its original
// start and deadline.
type Watch struct {
	ID             string `json:"id"`
	ConversationID string `json:"conversation_id"`
	InstanceID     string `json:"instance_id"`
	Region         string `json:"region"`
	// OS is "linux" or "windows", for the in-guest check.
	OS string `json:"os"`
	// Address is the public IP and login port probed, "203.0.113.7:22".
	Address string `json:"address"`
	Port    int    `json:"port"`
	// GuestCheck is true when the login service may also be checked inside
	// the guest: the report found the TAT agent online.
	GuestCheck bool `json:"guest_check,omitempty"`
	// User is who asked, mentioned in the final line; "" for none.
	User      string    `json:"user,omitempty"`
	StartedAt time.Time `json:"started_at"`
	// Deadline is when the watch gives up, wherever it runs by then.
	Deadline time.Time `json:"deadline"`
}

// watchKeep is how long a watch's record and its end mark outlive its
// deadline: long enough for a job redelivered late to find the watch over.
const watchKeep = time.Hour

// Job returns the job that runs the watch; queue it again to hand the watch
// over to another replica.
func (w Watch) Job() Job {
	return Job{ID: w.ID, Kind: JobWatch, ConversationID: w.ConversationID, Target: w.InstanceID, Region: w.Region,
		Port: w.Port, Requester: w.User, QueuedAt: w.StartedAt}
}

// StartWatch stores w and queues its job.
func (s *Store) StartWatch(ctx context.Context, w Watch) error {
	doing := "starting login watch " + w.ID
	switch {
	case !validID(w.ID) || !validID(w.ConversationID):
		return fmt.Errorf("%s: invalid ID", doing)
	case !w.Deadline.After(w.StartedAt):
		return fmt.Errorf("%s: deadline %v is not after its start %v", doing, w.Deadline, w.StartedAt)
	}
	data, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	ttl := time.Until(w.Deadline) + watchKeep
	if err := s.rdb.Set(ctx, s.tagged("watch", w.ID), data, ttl).Err(); err != nil {
		return wrap(doing, err)
	}
	return s.Enqueue(ctx, w.Job())
}

// Watch returns the watch id. It returns ErrNotFound once the watch has
// ended (EndWatch) or its record has expired.
func (s *Store) Watch(ctx context.Context, id string) (Watch, error) {
	doing := "reading login watch " + id
	if !validID(id) {
		return Watch{}, fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	data, err := s.rdb.Get(ctx, s.tagged("watch", id)).Result()
	if errors.Is(err, redis.Nil) {
		return Watch{}, fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	if err != nil {
		return Watch{}, wrap(doing, err)
	}
	var w Watch
	if err := json.Unmarshal([]byte(data), &w); err != nil {
		return Watch{}, fmt.Errorf("%s: decoding: %w", doing, err)
	}
	return w, nil
}

// endWatch marks KEYS[2] (the watch's end) unless it is marked already, and
// then deletes KEYS[1] (its record). It returns 1 for the caller that marked
// it, 0 for any other.
var endWatch = redis.NewScript(`
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
return 1`)

// EndWatch ends the watch id: of all callers, on every replica, exactly one
// gets first true, and only it may post how the watch ended. Once ended, the
// watch is gone (Watch returns ErrNotFound).
func (s *Store) EndWatch(ctx context.Context, id string) (first bool, err error) {
	doing := "ending login watch " + id
	if !validID(id) {
		return false, fmt.Errorf("%s: invalid ID", doing)
	}
	record := s.tagged("watch", id)
	n, err := endWatch.Run(ctx, s.rdb, []string{record, record + ":ended"}, watchKeep.Milliseconds()).Int()
	if err != nil {
		return false, wrap(doing, err)
	}
	return n == 1, nil
}
