package redistest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestNewAnswersPing(t *testing.T) {
	c := New(t)
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
}

func TestKeyPrefixDeletesOnlyItsKeysAtTheEnd(t *testing.T) {
	ctx := t.Context()
	c := New(t)
	outer := KeyPrefix(t, c)
	if err := c.Set(ctx, outer+"keep", "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	var inner string
	t.Run("inner", func(t *testing.T) {
		inner = KeyPrefix(t, c)
		if inner == outer || !strings.HasPrefix(inner, "cvmlogin-test:") {
			t.Fatalf("KeyPrefix = %q (outer %q), want a fresh cvmlogin-test: prefix", inner, outer)
		}
		for _, k := range []string{"a", "b:{x}", "c"} {
			if err := c.Set(ctx, inner+k, "1", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		}
	})
	if n := countKeys(t, c, inner); n != 0 {
		t.Errorf("%d keys with prefix %q remain after the test, want 0", n, inner)
	}
	if n := countKeys(t, c, outer); n != 1 {
		t.Errorf("%d keys with the outer prefix remain, want 1", n)
	}
}

func countKeys(t *testing.T, c *redis.Client, prefix string) int {
	t.Helper()
	keys, err := c.Keys(t.Context(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

func TestStartServerStopsAndRestartsEmpty(t *testing.T) {
	addr, stop, restart := StartServer(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("addr = %q, want a loopback address", addr)
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1})
	defer c.Close()
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET on the started server: %v", err)
	}

	stop()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING succeeded after stop")
	}

	restart()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after restart: %v", err)
	}
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET k after restart: err = %v, want redis.Nil (a fresh, empty server)", err)
	}
}

func TestSharedServerFailsClearlyWhenEnvAddrIsDead(t *testing.T) {
	t.Setenv(EnvAddr, closedAddr(t))
	_, err := sharedServer()
	if err == nil || !strings.Contains(err.Error(), EnvAddr) {
		t.Fatalf("sharedServer() error = %v, want one naming %s", err, EnvAddr)
	}
}

func TestWaitReadyGivesUpAtTheDeadline(t *testing.T) {
	start := time.Now()
	err := waitReady(closedAddr(t), 300*time.Millisecond, nil)
	if err == nil {
		t.Fatal("waitReady on a closed port succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waitReady took %v, want about 300ms", d)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + port
}

func TestDeleteKeysLeavesOtherPrefixes(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c := New(t)
	p := KeyPrefix(t, c)
	c.Set(ctx, p+"one:x", "1", time.Minute)
	c.Set(ctx, p+"two:x", "1", time.Minute)
	if err := deleteKeys(ctx, c, p+"one:"); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, c, p); n != 1 {
		t.Errorf("%d keys left, want 1 (only %stwo:x)", n, p)
	}
}
