package conversations

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The defaults of Options.
const (
	DefaultPrefix      = "cvmlogin:"
	DefaultTTL         = 7 * 24 * time.Hour
	DefaultLogLimit    = 500
	DefaultAuditMaxLen = 100_000
	DefaultAuditMaxAge = 90 * 24 * time.Hour
	DefaultJobsMaxLen  = 10_000
)

// Options configures a Store. The zero value of each field selects its
// default.
type Options struct {
	// Prefix starts every key, "cvmlogin:" by default. It must not contain
	// "{" or "}", which would change the Cluster hash slots of keys.
	Prefix string
	// TTL is how long conversation data (conversations, reports, logs, thread
	// index, button values, the job queue) lives after its last write:
	// 7 days by default.
	TTL time.Duration
	// LogLimit caps the entries kept per conversation log (500).
	LogLimit int
	// AuditMaxLen caps the audit stream, approximately (100000 entries).
	AuditMaxLen int64
	// AuditMaxAge is how long audit events are kept (90 days).
	AuditMaxAge time.Duration
	// JobsMaxLen caps each lane of the job queue, approximately (10000
	// entries).
	JobsMaxLen int64
	// Now returns the current time; time.Now by default. Tests set it to
	// control fix-request expiry.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.LogLimit <= 0 {
		o.LogLimit = DefaultLogLimit
	}
	if o.AuditMaxLen <= 0 {
		o.AuditMaxLen = DefaultAuditMaxLen
	}
	if o.AuditMaxAge <= 0 {
		o.AuditMaxAge = DefaultAuditMaxAge
	}
	if o.JobsMaxLen <= 0 {
		o.JobsMaxLen = DefaultJobsMaxLen
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Store is cvmlogin's state in Redis. It is safe for concurrent use, by
// several goroutines and several processes sharing one Redis.
//
// Every method that reaches Redis returns an error wrapping ErrUnavailable
// (and the Redis client's error) when Redis cannot be reached, so that
// callers can tell users "state store unavailable".
type Store struct {
	rdb  redis.UniversalClient
	opts Options
}

// New returns a Store keeping its state in rdb. The Store does not own rdb:
// closing rdb is the caller's job.
func New(rdb redis.UniversalClient, opts Options) *Store {
	return &Store{rdb: rdb, opts: opts.withDefaults()}
}

// Ping checks that Redis answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return wrap("pinging the state store", err)
	}
	return nil
}

func (s *Store) now() time.Time { return s.opts.Now() }

// key joins the prefix and parts with ":".
func (s *Store) key(parts ...string) string {
	k := s.opts.Prefix
	for i, p := range parts {
		if i > 0 {
			k += ":"
		}
		k += p
	}
	return k
}

// tagged returns the key "<prefix><kind>:{<id>}", whose hash tag puts every
// key of one id in the same Cluster slot. id must be valid (see validID).
func (s *Store) tagged(kind, id string) string {
	return s.opts.Prefix + kind + ":{" + id + "}"
}

// NewID returns a new random identifier: 26 characters from a-z and 2-7,
// carrying 128 bits from crypto/rand. Conversations, fix requests, jobs and
// button values use it.
func NewID() string { return strings.ToLower(rand.Text()) }

// idPattern is what IDs look like: URL-safe, 16 to 64 characters. NewID's
// match it; so do other random URL-safe IDs callers may bring.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)

// ValidID reports whether id, which may come from anywhere, can be an ID
// (of a conversation, a button value, …): the store answers ErrNotFound for
// one that cannot, without asking Redis.
func ValidID(id string) bool { return validID(id) }

// validID reports whether id can be an ID. Checking this before building a
// key keeps attacker-controlled strings out of Redis and hash tags intact.
func validID(id string) bool { return idPattern.MatchString(id) }

var plainKeyPart = regexp.MustCompile(`^[A-Za-z0-9._:/-]{1,100}$`)

// keyPart returns s, or a hash of it when s is long or holds characters
// that do not belong in a key. Hashes start with "#", which plain parts
// never contain, so the two cannot collide.
func keyPart(s string) string {
	if plainKeyPart.MatchString(s) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "#" + hex.EncodeToString(sum[:])
}
