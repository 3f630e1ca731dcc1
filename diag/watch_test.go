package diag

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// flakyDialer refuses the first failures connects, then connects to a real
// loopback listener.
type flakyDialer struct {
	failures int32
	calls    atomic.Int32
	addr     string
}

func (d *flakyDialer) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	if d.calls.Add(1) <= d.failures {
		return nil, errors.New("connect: connection refused")
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, d.addr)
}

func loopbackListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestWatchLoginUntilReachable(t *testing.T) {
	d := &flakyDialer{failures: 3, addr: loopbackListener(t)}
	res := WatchLogin(context.Background(), d, "203.0.113.7:22", WatchOptions{Interval: time.Millisecond, Deadline: 5 * time.Second})
	if !res.Reachable || res.Attempts != 4 || res.Since.IsZero() {
		t.Errorf("got %+v, want reachable on the 4th attempt", res)
	}
}

func TestWatchLoginGivesUp(t *testing.T) {
	d := &flakyDialer{failures: 1 << 30}
	res := WatchLogin(context.Background(), d, "203.0.113.7:22", WatchOptions{Interval: 5 * time.Millisecond, Deadline: 50 * time.Millisecond})
	if res.Reachable || res.Attempts < 2 || res.LastError == "" || res.Waited < 50*time.Millisecond {
		t.Errorf("got %+v, want a bounded, failed watch with its last error", res)
	}
}

func TestWatchLoginStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := WatchLogin(ctx, &flakyDialer{failures: 1 << 30}, "203.0.113.7:22", WatchOptions{Interval: time.Hour})
	if res.Reachable || res.Attempts != 1 {
		t.Errorf("got %+v, want one attempt then stop", res)
	}
}
