package conversations

import (
	"strings"
	"testing"

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
