package tencentsim

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestFateOfBuiltinScenarios(t *testing.T) {
	sim := New(Options{Now: newFakeClock().Now})
	defer sim.Close()
	tests := []struct {
		addr string
		want fate
	}{
		{"127.0.0.11:22", fateOpen},       // ins-linux001
		{"127.0.0.11:80", fateDropped},    // its group drops everything else
		{"127.0.0.12:3389", fateOpen},     // ins-win00001
		{"127.0.0.12:22", fateDropped},    // Windows groups do not open 22
		{"127.0.0.13:22", fateDropped},    // ins-stopped1
		{"127.0.0.14:22", fateDropped},    // ins-isolate1
		{"127.0.0.15:22", fateDropped},    // ins-expired1
		{"127.0.0.16:22", fateDropped},    // ins-arrears1
		{"127.0.0.18:22", fateDropped},    // ins-nobandw1
		{"127.0.0.19:22", fateDropped},    // ins-blocked1
		{"127.0.0.20:22", fateDropped},    // ins-sgdrop01
		{"127.0.0.21:22", fateDropped},    // ins-sgnone01
		{"127.0.0.22:22", fateRefused},    // ins-portdown
		{"127.0.0.23:22", fateOpen},       // ins-cpuhigh1
		{"127.0.0.24:22", fateOpen},       // ins-memhigh1
		{"127.0.0.25:22", fateOpen},       // ins-bwfull01
		{"127.0.0.26:22", fateOpen},       // ins-agentoff
		{"127.0.0.27:22", fateOpen},       // ins-diskful1
		{"127.0.0.28:3389", fateRefused},  // ins-rdpdown1
		{"127.0.0.29:22", fateDropped},    // ins-sgbast01: only the bastion group
		{"127.0.0.30:22", fateOpen},       // ins-sgdropx1: the group DROP never matches
		{"127.0.0.31:22", fateOpen},       // ins-sgaddrt1: template holds 0.0.0.0/0
		{"127.0.0.32:22", fateDropped},    // ins-sgsvct01: service template tcp:22 dropped
		{"127.0.0.32:80", fateRefused},    // ...and the rest accepted
		{"127.0.0.33:22", fateDropped},    // ins-twogrp01: the first group decides
		{"[2001:db8::1:41]:22", fateOpen}, // ins-ipv6onl1: ::/0 accepts 22
		{"[2001:db8::1:41]:80", fateDropped},
		{"127.0.0.34:2222", fateDropped}, // ins-port2222
		{"127.0.0.34:22", fateRefused},   // 22 is open, sshd is on 2222
		{"127.0.0.35:22", fateDropped},   // ins-anycast1: blocked
		{"127.0.0.36:22", fateOpen},      // ins-credit01
		{"127.0.0.37:22", fateOpen},      // ins-sshsock1: ssh.socket listens
		{"127.0.0.38:22", fateOpen},      // ins-autorenw
		{"127.0.0.99:22", fateUnknown},
		{"203.0.113.10:22", fateUnknown},
	}
	for _, tt := range tests {
		if got := sim.fate(netip.MustParseAddrPort(tt.addr)); got != tt.want {
			t.Errorf("fate(%s) = %d, want %d", tt.addr, got, tt.want)
		}
	}
}

func TestDialerOnlyDialsLoopback(t *testing.T) {
	sim := New(Options{})
	defer sim.Close()
	var mu sync.Mutex
	var dialed []netip.AddrPort
	d := sim.Dialer()
	d.dial = func(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		return dialLoopback(ctx, addr)
	}
	targets := []string{"203.0.113.10:22", "10.0.0.5:22", "192.168.1.1:3389", "8.8.8.8:443", "127.0.0.99:22", "[::1]:22"}
	for _, sc := range sim.Scenarios() {
		for _, ip := range sc.PublicIPs {
			targets = append(targets, ip+":22", ip+":3389", ip+":80")
		}
	}
	for _, addr := range targets {
		conn, err := dialShort(d, addr)
		closeIfAny(conn)
		if err == nil {
			continue
		}
		var opErr *net.OpError
		if !errors.As(err, &opErr) || opErr.Op != "dial" {
			t.Errorf("dial %s: %v is not a dial *net.OpError", addr, err)
		}
	}
	listener, err := sim.probeListener()
	if err != nil {
		t.Fatal(err)
	}
	if len(dialed) == 0 {
		t.Fatal("no open port was dialed")
	}
	for _, addr := range dialed {
		if addr != listener || !addr.Addr().IsLoopback() {
			t.Errorf("dialed %s, want only the probe listener %s", addr, listener)
		}
	}
	if _, err := dialLoopback(context.Background(), netip.MustParseAddrPort("192.0.2.1:22")); err == nil {
		t.Error("dialLoopback dialed a non-loopback address")
	}
}

func TestDialerErrors(t *testing.T) {
	sim := New(Options{})
	defer sim.Close()
	d := sim.Dialer()

	conn, err := d.DialContext(context.Background(), "tcp", "127.0.0.11:22")
	if err != nil {
		t.Fatalf("open port: %v", err)
	}
	conn.Close()

	_, err = d.DialContext(context.Background(), "tcp", "127.0.0.22:22")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("closed port: %v, want ECONNREFUSED", err)
	}

	start := time.Now()
	_, err = dialShort(d, "127.0.0.20:22")
	if !isTimeout(err) || time.Since(start) < 30*time.Millisecond {
		t.Errorf("dropped port: %v after %s, want a timeout at the deadline", err, time.Since(start))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.DialContext(ctx, "tcp", "127.0.0.20:22"); !errors.Is(err, context.Canceled) {
		t.Errorf("dropped port, canceled: %v, want context.Canceled", err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := d.DialContext(context.Background(), "tcp", "127.0.0.20:22")
		done <- err
	}()
	sim.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("dropped port, Sim closed: %v, want net.ErrClosed", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func closeIfAny(conn net.Conn) {
	if conn != nil {
		conn.Close()
	}
}
