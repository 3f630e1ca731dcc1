// Package redistest gives tests a real Redis server.
//
// New connects to the server named by CVMLOGIN_TEST_REDIS_ADDR or, when that
// is unset, to a redis-server it starts on a free loopback port, once per test
// binary. KeyPrefix isolates each test's keys on that shared server.
// StartServer starts a private server that a test may stop and restart.
//
// When no Redis is reachable the helpers fail the test; they never skip it, so
// that CI cannot pass without a real Redis.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvAddr names the environment variable holding the host:port of an existing
// Redis server to test against instead of starting one.
const EnvAddr = "CVMLOGIN_TEST_REDIS_ADDR"

// How long a server may take to answer PING: one we started, and one named
// by EnvAddr, which is already running.
const (
	readyTimeout    = 10 * time.Second
	envReadyTimeout = 2 * time.Second
)

var shared struct {
	once sync.Once
	addr string
	err  error
}

// Addr returns the host:port of the Redis server shared by the tests of this
// binary, starting it on first use. A started server is killed when the test
// binary exits.
func Addr(tb testing.TB) string {
	tb.Helper()
	shared.once.Do(func() { shared.addr, shared.err = sharedServer() })
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.addr
}

func sharedServer() (string, error) {
	if addr := os.Getenv(EnvAddr); addr != "" {
		if err := waitReady(addr, envReadyTimeout, nil); err != nil {
			return "", fmt.Errorf("redistest: %s=%s: no Redis answers there: %w", EnvAddr, addr, err)
		}
		return addr, nil
	}
	srv, err := startServer("")
	if err != nil {
		return "", err
	}
	return srv.addr, nil
}

// New returns a client of the shared server (see Addr), closed when the test
// ends. Tests sharing the server keep apart by using KeyPrefix.
func New(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: Addr(tb)})
	tb.Cleanup(func() { c.Close() })
	return c
}

// KeyPrefix returns a key prefix unique to the test, "cvmlogin-test:<random>:".
// When the test ends, every key of c that starts with it is deleted.
func KeyPrefix(tb testing.TB, c redis.UniversalClient) string {
	tb.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	prefix := "cvmlogin-test:" + hex.EncodeToString(b) + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := deleteKeys(ctx, c, prefix); err != nil {
			tb.Errorf("redistest: deleting keys with prefix %s: %v", prefix, err)
		}
	})
	return prefix
}

// deleteKeys deletes every key starting with prefix, which must hold no glob
// characters.
func deleteKeys(ctx context.Context, c redis.UniversalClient, prefix string) error {
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := c.Del(ctx, iter.Val()).Err(); err != nil {
			return err
		}
	}
	return iter.Err()
}

// StartServer starts a private redis-server for one test and returns its
// address, a stop function that kills it, and a restart function that starts
// it again, empty, on the same address. The server is killed when the test
// ends. It needs redis-server on PATH, whatever EnvAddr says. Call restart
// from the test's goroutine: it fails the test if the server does not start.
func StartServer(tb testing.TB) (addr string, stop func(), restart func()) {
	tb.Helper()
	srv, err := startServer("")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	stop = func() {
		mu.Lock()
		defer mu.Unlock()
		srv.kill()
	}
	restart = func() {
		tb.Helper()
		mu.Lock()
		defer mu.Unlock()
		srv.kill()
		next, err := startServer(srv.port)
		if err != nil {
			tb.Fatal(err)
		}
		srv = next
	}
	tb.Cleanup(stop)
	return srv.addr, stop, restart
}
