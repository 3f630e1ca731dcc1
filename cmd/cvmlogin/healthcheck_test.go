package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer healthy.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer failing.Close()

	if code, out, errOut := runCLI(t, "healthcheck", "--url", healthy.URL+"/healthz"); code != exitOK || !strings.HasPrefix(out, "ok") {
		t.Fatalf("healthy: exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "healthcheck", "--url", failing.URL+"/healthz"); code != exitFailed || !strings.Contains(errOut, "503") {
		t.Fatalf("failing: exit %d, %q", code, errOut)
	}

	// Without --url, http.listen's port on loopback is probed.
	port := healthy.Listener.Addr().String()[strings.LastIndex(healthy.Listener.Addr().String(), ":")+1:]
	cfg := filepath.Join(t.TempDir(), "cvmlogin.yaml")
	if err := os.WriteFile(cfg, []byte("http:\n  listen: \":"+port+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "--config", cfg, "healthcheck"); code != exitOK || !strings.Contains(out, "127.0.0.1:"+port+"/healthz") {
		t.Fatalf("from http.listen: exit %d, %q %q", code, out, errOut)
	}
}
