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

// watchOnce watches an address through d with opts.
func watchOnce(ctx context.Context, d Dialer, req WatchRequest, opts WatchOptions) WatchResult {
	req.Address = "203.0.113.7:22"
	return (&Watcher{Dialer: d, Options: opts}).WatchLogin(ctx, req)
}

func TestWatchLoginUntilReachable(t *testing.T) {
	d := &flakyDialer{failures: 3, addr: loopbackListener(t)}
	res := watchOnce(context.Background(), d, WatchRequest{}, WatchOptions{Interval: time.Millisecond, Deadline: 5 * time.Second})
	if !res.Reachable || res.Attempts != 4 || res.Since.IsZero() || res.Service != nil {
		t.Errorf("got %+v, want reachable on the 4th attempt, no service check", res)
	}
}

func TestWatchLoginGivesUp(t *testing.T) {
	d := &flakyDialer{failures: 1 << 30}
	res := watchOnce(context.Background(), d, WatchRequest{}, WatchOptions{Interval: 5 * time.Millisecond, Deadline: 50 * time.Millisecond})
	if res.Reachable || res.Attempts < 2 || res.LastError == "" || res.Waited < 50*time.Millisecond {
		t.Errorf("got %+v, want a bounded, failed watch with its last error", res)
	}
}

// TestWatchLoginBacksOff: the wait between probes grows to MaxInterval, so
// a long watch makes far fewer probes than its first interval would.
func TestWatchLoginBacksOff(t *testing.T) {
	d := &flakyDialer{failures: 1 << 30}
	res := watchOnce(context.Background(), d, WatchRequest{}, WatchOptions{Interval: 2 * time.Millisecond, MaxInterval: 40 * time.Millisecond, Deadline: 400 * time.Millisecond})
	if res.Reachable || res.Attempts > 25 { // every 2ms would be 200
		t.Errorf("got %d probes in 400ms, want the waits to grow to 40ms", res.Attempts)
	}
}

// TestWatchLoginKeepsItsDeadline: a watch resumed with its original start
// ends at that start's deadline, not a full Deadline later, and an earlier
// Deadline of the request wins.
func TestWatchLoginKeepsItsDeadline(t *testing.T) {
	d := &flakyDialer{failures: 1 << 30}
	for name, req := range map[string]WatchRequest{
		"resumed":          {Start: time.Now().Add(-time.Hour + 20*time.Millisecond)},
		"request deadline": {Deadline: time.Now().Add(20 * time.Millisecond)},
	} {
		began := time.Now()
		res := watchOnce(context.Background(), d, req, WatchOptions{Interval: 5 * time.Millisecond, Deadline: time.Hour})
		if res.Reachable || time.Since(began) > time.Minute {
			t.Errorf("%s: got %+v, want it to give up at its deadline", name, res)
		}
		if name == "resumed" && res.Waited < time.Hour-time.Second {
			t.Errorf("%s: waited %v, want it counted from the original start", name, res.Waited)
		}
	}
}

func TestWatchLoginStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := watchOnce(ctx, &flakyDialer{failures: 1 << 30}, WatchRequest{}, WatchOptions{Interval: time.Hour})
	if res.Reachable || res.Attempts != 1 {
		t.Errorf("got %+v, want one attempt then stop", res)
	}
}

// TestServiceCheckRunning: the login service runs when it, or its systemd
// socket, holds the login port, as guest.login_service judges it.
func TestServiceCheckRunning(t *testing.T) {
	tests := []struct {
		name  string
		check ServiceCheck
		want  bool
	}{
		{"sshd active on 22", ServiceCheck{Facts: GuestFacts{LoginServiceState: "active", ListeningPorts: []int{22}}}, true},
		{"ssh.socket holds 22", ServiceCheck{Facts: GuestFacts{LoginServiceState: "inactive", LoginSocket: "ssh.socket", ListeningPorts: []int{22}}}, true},
		{"TermService running on the port", ServiceCheck{Facts: GuestFacts{LoginServiceState: "running", ListeningPorts: []int{22}}}, true},
		{"sshd inactive", ServiceCheck{Facts: GuestFacts{LoginServiceState: "inactive"}}, false},
		{"sshd active, 22 not listening", ServiceCheck{Facts: GuestFacts{LoginServiceState: "active"}}, false},
		{"another process on 22", ServiceCheck{Facts: GuestFacts{LoginServiceState: "failed", ListeningPorts: []int{22}}}, false},
		{"Remote Desktop denied", ServiceCheck{Facts: GuestFacts{LoginServiceState: "running", ListeningPorts: []int{22}, RDPDenied: true}}, false},
		{"check failed", ServiceCheck{Err: "the TAT agent is offline"}, false},
	}
	for _, tc := range tests {
		if got := tc.check.Running(22); got != tc.want {
			t.Errorf("%s: Running = %v, want %v", tc.name, got, tc.want)
		}
	}
}
