package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
)

func TestAuditCommand(t *testing.T) {
	rdb := redistest.New(t)
	prefix := redistest.KeyPrefix(t, rdb)
	store := conversations.New(rdb, conversations.Options{Prefix: prefix})
	ctx := context.Background()
	now := time.Now().UTC()
	for _, e := range []conversations.Event{
		{Time: now.Add(-48 * time.Hour), Actor: "U1", Action: "fix.requested", InstanceID: "ins-old00001"},
		{Time: now.Add(-time.Hour), Actor: "U1", Action: "fix.requested", InstanceID: "ins-abc12345", FixRequestID: "fix1", Params: map[string]string{"fix": "restart_instance"}},
		{Time: now.Add(-50 * time.Minute), Actor: "U2", Action: "fix.succeeded", InstanceID: "ins-abc12345", Channel: "C0CHANNEL1", FixRequestID: "fix1", RequestID: "req-1", Result: "rebooted"},
		{Time: now.Add(-45 * time.Minute), Actor: "U0REQUEST1", Action: "diagnose", InstanceID: "ins-abc12345", Region: "ap-guangzhou", Channel: "C0CHANNEL1",
			Params: map[string]string{"target": "ins-abc12345", "diag_id": "d1", "plan": strings.Repeat("Add 7 inbound rules at the top of sg-12345678 ", 10)},
			Result: "FAIL: likely cause security_group.login_port: " + strings.Repeat("Security group blocks TCP 22. ", 20)},
		{Time: now.Add(-40 * time.Minute), Actor: "U3", Action: "diagnose", InstanceID: "ins-other001"},
	} {
		if err := store.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(t.TempDir(), "cvmlogin.yaml")
	config := fmt.Sprintf("redis:\n  addr: %s\n  key_prefix: %q\n", rdb.Options().Addr, prefix)
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCLI(t, "--config", cfg, "audit", "--instance", "ins-abc12345")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"fix.requested", "fix.succeeded", "req-1", "fix=restart_instance", "U2  fix.succeeded", "<#C0CHANNEL1>", "<@U0REQUEST1>  diagnose  ins-abc12345 ap-guangzhou"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if n := len([]rune(line)); n > 120 {
			t.Errorf("a line of %d characters, want at most 120: %q", n, line)
		}
	}
	if strings.Contains(out, "ins-other001") || strings.Contains(out, "ins-old00001") {
		t.Errorf("output has events of other instances or older than 24h:\n%s", out)
	}

	for _, since := range []string{"72h", "3d", "2d1h"} {
		code, out, errOut := runCLI(t, "--config", cfg, "audit", "--since", since, "--output", "json")
		var events []conversations.Event
		if code != exitOK || json.Unmarshal([]byte(out), &events) != nil || len(events) != 5 {
			t.Fatalf("--since %s: exit %d, %d events from json output:\n%s%s", since, code, len(events), out, errOut)
		}
	}
	for _, since := range []string{"0d", "-1h", "7days", "d"} {
		if code, _, errOut := runCLI(t, "--config", cfg, "audit", "--since", since); code != exitUsage || !strings.Contains(errOut, "--since") {
			t.Errorf("--since %s: exit %d, %s", since, code, errOut)
		}
	}

	if code, _, errOut := runCLI(t, "--config", cfg, "audit", "--instance", "web-1"); code != exitUsage || !strings.Contains(errOut, "instance ID") {
		t.Fatalf("bad --instance: exit %d, %s", code, errOut)
	}
}
