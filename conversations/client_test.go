package conversations

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/internal/redistest"
)

func TestNewClientConnects(t *testing.T) {
	addr := redistest.Addr(t)
	tests := []struct {
		name string
		opts ClientOptions
	}{
		{"address", ClientOptions{Addrs: []string{addr}}},
		{"URL", ClientOptions{URL: "redis://" + addr + "/0"}},
		{"URL wins over addresses", ClientOptions{URL: "redis://" + addr, Addrs: []string{"127.0.0.1:1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.opts)
			must(t, err)
			defer c.Close()
			if err := New(c, Options{}).Ping(t.Context()); err != nil {
				t.Errorf("Ping: %v", err)
			}
		})
	}
}

func TestNewClientErrorsHideThePassword(t *testing.T) {
	const secret = "s3cr3t-hunter2"
	tests := []struct {
		name string
		opts ClientOptions
	}{
		{"malformed URL", ClientOptions{URL: "redis://:" + secret + "@127.0.0.1:6379/%zz"}},
		{"bad scheme", ClientOptions{URL: "http://:" + secret + "@127.0.0.1:6379"}},
		{"bad database", ClientOptions{URL: "redis://:" + secret + "@127.0.0.1:6379/x"}},
		{"no address", ClientOptions{Password: secret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(tt.opts)
			if err == nil {
				t.Fatal("NewClient succeeded")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

// TestNewClientHonoursDeadlines: against a Redis that accepts connections but
// never answers, a call returns at its context's deadline, not after
// go-redis's own 3 s read timeout, so that Slack acks stay within 3 s.
func TestNewClientHonoursDeadlines(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // hold it open, say nothing
		}
	}()
	rdb, err := NewClient(ClientOptions{Addrs: []string{ln.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("a silent server answered PING")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("PING took %s: the context deadline was ignored", took)
	}
}
