package conversations

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// newStore returns a Store on the shared test Redis, with a key prefix of
// its own, and the client under it.
func newStore(t *testing.T, opts Options) (*Store, *redis.Client) {
	t.Helper()
	c := redistest.New(t)
	opts.Prefix = redistest.KeyPrefix(t, c)
	return New(c, opts), c
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 28, 4, 18, 31, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

func TestNewIDIsRandomAndURLSafe(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if len(id) != 26 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("NewID() = %q, want 26 characters of a-z2-7", id)
		}
		if !validID(id) {
			t.Fatalf("validID(NewID() = %q) = false", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"NewID", NewID(), true},
		{"base64url 22", "AbCdEfGhIjKlMnOpQr_-12", true},
		{"empty", "", false},
		{"15 characters", strings.Repeat("a", 15), false},
		{"64 characters", strings.Repeat("a", 64), true},
		{"65 characters", strings.Repeat("a", 65), false},
		{"Slack's 2000-character maximum", strings.Repeat("a", 2000), false},
		{"hash tag", "{aaaaaaaaaaaaaaaa}", false},
		{"key separator", "aaaaaaaa:aaaaaaaa", false},
		{"glob", "aaaaaaaaaaaaaaaa*", false},
		{"path", "../../../../etc/passwd", false},
		{"instance ID", "ins-abc12345", false},
		{"newline", "aaaaaaaaaaaaaaaa\n", false},
		{"non-ASCII", "ааааааааааааааааа", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validID(tt.id); got != tt.want {
				t.Errorf("validID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestKeyPart(t *testing.T) {
	tests := []struct {
		name, in  string
		wantPlain bool
	}{
		{"channel", "C0123ABCD", true},
		{"thread ts", "1712345678.123456", true},
		{"instance key", "ap-guangzhou/ins-abc12345", true},
		{"empty", "", false},
		{"spaces", "U123 /cvm-login ins-abc12345", false},
		{"hash tag", "{x}", false},
		{"glob", "a*", false},
		{"looks hashed", "#abc", false},
		{"long", strings.Repeat("a", 101), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := keyPart(tt.in)
			if plain := got == tt.in; plain != tt.wantPlain {
				t.Errorf("keyPart(%q) = %q, plain = %v, want %v", tt.in, got, plain, tt.wantPlain)
			}
			if !tt.wantPlain && (!strings.HasPrefix(got, "#") || len(got) != 65) {
				t.Errorf("keyPart(%q) = %q, want # and a SHA-256 in hex", tt.in, got)
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.Prefix != "cvmlogin:" || o.TTL != 7*24*time.Hour || o.AuditMaxLen != 100000 || o.AuditMaxAge != 90*24*time.Hour || o.Now == nil {
		t.Errorf("Options{}.withDefaults() = %+v, want prefix cvmlogin:, TTL 7 days, audit 100000 entries and 90 days", o)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// deadStore returns a Store whose Redis does not answer, with timeouts small
// enough for tests.
func deadStore(t *testing.T) *Store {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:          closedAddr(t),
		DialTimeout:   200 * time.Millisecond,
		ReadTimeout:   200 * time.Millisecond,
		WriteTimeout:  200 * time.Millisecond,
		MaxRetries:    -1,
		DialerRetries: 1,
	})
	t.Cleanup(func() { c.Close() })
	return New(c, Options{})
}

func TestDeadRedisIsUnavailable(t *testing.T) {
	s := deadStore(t)
	id := NewID()
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Ping", s.Ping},
		{"CreateConversation", func(ctx context.Context) error {
			return s.CreateConversation(ctx, Conversation{ID: id})
		}},
		{"Conversation", func(ctx context.Context) error { _, err := s.Conversation(ctx, id); return err }},
		{"SaveReport", func(ctx context.Context) error {
			_, err := s.SaveReport(ctx, id, sampleReport("ins-abc12345"))
			return err
		}},
		{"AppendLog", func(ctx context.Context) error { return s.AppendLog(ctx, id, LogEntry{Text: "x"}) }},
		{"FirstSeen", func(ctx context.Context) error {
			_, err := s.FirstSeen(ctx, "event_id", "Ev1", time.Minute)
			return err
		}},
		{"CreateRef", func(ctx context.Context) error { _, err := s.CreateRef(ctx, Ref{Action: "rediagnose"}); return err }},
		{"ResolveRef", func(ctx context.Context) error { _, err := s.ResolveRef(ctx, id); return err }},
		{"CreateFixRequest", func(ctx context.Context) error {
			_, err := s.CreateFixRequest(ctx, FixRequest{}, time.Minute)
			return err
		}},
		{"Transition", func(ctx context.Context) error {
			_, err := s.Transition(ctx, id, diag.FixRequested, diag.FixApproved, nil)
			return err
		}},
		{"Audit", func(ctx context.Context) error { return s.Audit(ctx, Event{Action: "diagnose"}) }},
		{"Enqueue", func(ctx context.Context) error { return s.Enqueue(ctx, Job{Kind: JobDiagnose}) }},
		{"AcquireRun", func(ctx context.Context) error {
			_, _, err := s.AcquireRun(ctx, "ap-guangzhou/ins-abc12345", id, time.Minute)
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			err := c.call(t.Context())
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "state store unavailable") || !strings.Contains(msg, "connection refused") {
				t.Errorf("err = %q, want it to say the state store is unavailable and why", msg)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v to fail, want well under 2s", d)
			}
		})
	}
}

func TestCanceledContextIsNotUnavailable(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Conversation(ctx, NewID())
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v, want context.Canceled and not ErrUnavailable", err)
	}
}

func TestServerErrorRepliesAreNotUnavailable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{redis.Nil, false},
		{errors.New("dial tcp: connection refused"), true},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{redis.ErrClosed, true},
		{redisReply("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{redisReply("LOADING Redis is loading the dataset in memory"), true},
		{redisReply("CLUSTERDOWN The cluster is down"), true},
		{redisReply("READONLY You can't write against a read only replica."), true},
	}
	for _, tt := range tests {
		if got := unavailable(tt.err); got != tt.want {
			t.Errorf("unavailable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// redisReply is an error reply from a Redis server.
type redisReply string

func (e redisReply) Error() string { return string(e) }
func (redisReply) RedisError()     {}

func TestEveryKeyHasATTL(t *testing.T) {
	ctx := t.Context()
	s, c := newStore(t, Options{})
	id := NewID()
	must(t, s.CreateConversation(ctx, Conversation{ID: id, Channel: "C1", ThreadTS: "1.1"}))
	must(t, s.SetMessage(ctx, id, "C1", "1.2", ""))
	_, err := s.SaveReport(ctx, id, sampleReport("ins-abc12345"))
	must(t, err)
	_, err = s.SaveReport(ctx, id, sampleReport("ins-abc12345"))
	must(t, err)
	must(t, s.AppendLog(ctx, id, LogEntry{Kind: "check", Text: "ok"}))
	_, err = s.FirstSeen(ctx, "event_id", "Ev1", time.Minute)
	must(t, err)
	_, err = s.CreateRef(ctx, Ref{Action: "rediagnose", ConversationID: id})
	must(t, err)
	fr, err := s.CreateFixRequest(ctx, FixRequest{ConversationID: id}, 15*time.Minute)
	must(t, err)
	_, err = s.Transition(ctx, fr.ID, diag.FixRequested, diag.FixApproved, nil)
	must(t, err)
	must(t, s.Audit(ctx, Event{Action: "diagnose"}))
	must(t, s.Enqueue(ctx, Job{Kind: JobDiagnose, ConversationID: id}))
	_, _, err = s.AcquireRun(ctx, "ap-guangzhou/ins-abc12345", id, time.Minute)
	must(t, err)
	w := s.Worker(WorkerOptions{Block: 10 * time.Millisecond})
	consumed := make(chan struct{})
	wctx, stop := context.WithCancel(ctx)
	go func() {
		defer close(consumed)
		w.Consume(wctx, "workers", "w1", func(context.Context, Job) error { stop(); return nil })
	}()
	<-consumed

	keys, err := c.Keys(ctx, s.opts.Prefix+"*").Result()
	must(t, err)
	if len(keys) < 10 {
		t.Errorf("found %d keys, want at least 10: %v", len(keys), keys)
	}
	for _, k := range keys {
		ttl, err := c.PTTL(ctx, k).Result()
		must(t, err)
		if ttl <= 0 {
			t.Errorf("key %s has no TTL (PTTL %v)", k, ttl)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
