package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencent"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
	"github.com/cvmlogin/cvmlogin/internal/logging"
)

// lockedBuffer is a log destination that concurrent loggers may share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records decodes JSON log lines.
func (b *lockedBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(b.buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
		out = append(out, rec)
	}
	return out
}

func TestDiagnosisIDOnRecords(t *testing.T) {
	ctx := diag.WithDiagnosisID(context.Background(), "d123")
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string // the text line, from "msg=" on
	}{
		{"context call", func(l *slog.Logger) { l.InfoContext(ctx, "hello", "k", 1) }, "msg=hello k=1 diag_id=d123"},
		{"LogAttrs", func(l *slog.Logger) { l.LogAttrs(ctx, slog.LevelWarn, "hello") }, "msg=hello diag_id=d123"},
		{"no context", func(l *slog.Logger) { l.Info("hello") }, "msg=hello"},
		{"context without an ID", func(l *slog.Logger) { l.InfoContext(context.Background(), "hello") }, "msg=hello"},
		{"logger With the ID already", func(l *slog.Logger) { l.With("diag_id", "d123").InfoContext(ctx, "hello") }, "msg=hello diag_id=d123"},
		{"record with the ID already", func(l *slog.Logger) { l.InfoContext(ctx, "hello", "diag_id", "d123") }, "msg=hello diag_id=d123"},
		{"below the level", func(l *slog.Logger) { l.DebugContext(ctx, "hello") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(logging.New(&buf, "text", slog.LevelInfo))
			got := buf.String()
			if i := strings.Index(got, "msg="); i >= 0 {
				got = strings.TrimSpace(got[i:])
			}
			if got != tt.want {
				t.Errorf("logged %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJSONFormat(t *testing.T) {
	var buf lockedBuffer
	logging.New(&buf, "json", slog.LevelDebug).With("component", "x").DebugContext(diag.WithDiagnosisID(context.Background(), "d9"), "hi")
	recs := buf.records(t)
	if len(recs) != 1 || recs[0]["diag_id"] != "d9" || recs[0]["component"] != "x" || recs[0]["level"] != "DEBUG" {
		t.Errorf("records %v", recs)
	}
}

// TestDiagnosisLinesCarryTheID runs a diagnosis against the simulator with
// a debug logger and finds the ID on every line of the cloud adapter and of
// the pipeline.
func TestDiagnosisLinesCarryTheID(t *testing.T) {
	sim := tencentsim.New(tencentsim.Options{})
	endpoint, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	var buf lockedBuffer
	logger := logging.New(&buf, "json", slog.LevelDebug)
	client, err := tencent.New(tencent.Config{Region: "ap-guangzhou", Endpoint: endpoint, Scheme: "http",
		SecretID: tencentsim.TestSecretID, SecretKey: tencentsim.TestSecretKey, Logger: logger.With("component", "tencent")})
	if err != nil {
		t.Fatal(err)
	}
	d := diag.NewDiagnoser(client, diag.Options{Region: "ap-guangzhou", PortProbe: true, ProbeTimeout: 200 * time.Millisecond,
		GuestChecks: true, Dialer: sim.Dialer(), Logger: logger.With("component", "diag")})
	target, err := diag.ParseTarget("ins-sgdrop01")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Diagnose(diag.WithDiagnosisID(context.Background(), "diag-42"), diag.Request{Target: target}); err != nil {
		t.Fatal(err)
	}

	calls := 0
	for _, rec := range buf.records(t) {
		if rec["diag_id"] != "diag-42" {
			t.Errorf("a line without diag_id=diag-42: %v", rec)
		}
		if rec["msg"] == "tencent cloud call" {
			calls++
		}
	}
	if calls < 5 {
		t.Errorf("%d adapter lines, want one per API call of the diagnosis", calls)
	}
}

func TestPrintfLogsAWarning(t *testing.T) {
	var buf bytes.Buffer
	logger := logging.New(&buf, "json", slog.LevelInfo)
	logging.Printf{Logger: logger}.Printf(diag.WithDiagnosisID(context.Background(), "d1"), "redis: dial %s: refused\n", "127.0.0.1:1")
	out := buf.String()
	for _, want := range []string{`"level":"WARN"`, `"msg":"redis: dial 127.0.0.1:1: refused"`, `"diag_id":"d1"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log line %s lacks %s", out, want)
		}
	}
}
