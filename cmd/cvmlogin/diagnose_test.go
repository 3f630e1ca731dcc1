package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
)

// fastConfig keeps the port probe short: blocked scenarios wait for it.
func fastConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cvmlogin.yaml")
	if err := os.WriteFile(path, []byte("diagnosis:\n  probe_timeout: 300ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCLI runs the command line and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestDiagnoseEveryScenario is the contract of `diagnose --output json`:
// every built-in scenario yields every check (diag.CheckIDs, 18) once, valid statuses, exactly
// the expected failing checks, pinned statuses and likely cause, and the
// exit code of B1.
func TestDiagnoseEveryScenario(t *testing.T) {
	cfg := fastConfig(t)
	for _, sc := range tencentsim.Builtin() {
		t.Run(sc.ID, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, "--config", cfg, "diagnose", sc.ID, "--simulate", "--output", "json")
			var r diag.Report
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("output is not a JSON report (%v); stderr: %s", err, errOut)
			}
			seen := map[diag.CheckID]int{}
			var fails []string
			for _, f := range r.Findings {
				seen[f.Check]++
				if !f.Status.Valid() {
					t.Errorf("%s has invalid status %q", f.Check, f.Status)
				}
				if f.Status == diag.StatusFail {
					fails = append(fails, string(f.Check))
				}
				if want, ok := sc.ExpectStatus[string(f.Check)]; ok && string(f.Status) != want {
					t.Errorf("%s is %s (%s), want %s", f.Check, f.Status, f.Detail, want)
				}
			}
			for _, id := range diag.CheckIDs {
				if seen[id] != 1 {
					t.Errorf("%s appears %d times", id, seen[id])
				}
			}
			slices.Sort(fails)
			want := slices.Sorted(slices.Values(sc.ExpectFail))
			if !slices.Equal(fails, want) {
				t.Errorf("failing checks %v, want %v", fails, want)
			}
			likely := ""
			if r.LikelyCause != nil {
				likely = string(*r.LikelyCause)
			}
			if likely != sc.ExpectLikelyCause {
				t.Errorf("likely_cause %q, want %q", likely, sc.ExpectLikelyCause)
			}
			wantCode := exitOK
			if len(want) > 0 {
				wantCode = exitFailed
			}
			if code != wantCode {
				t.Errorf("exit code %d, want %d; stderr: %s", code, wantCode, errOut)
			}
		})
	}
}

func TestDiagnoseExitCodes(t *testing.T) {
	cfg := fastConfig(t)
	tests := []struct {
		name    string
		args    []string
		code    int
		errHave string
	}{
		{"malformed instance ID", []string{"diagnose", "ins-ABC"}, exitUsage, "not a valid instance ID"},
		{"aws style ID", []string{"diagnose", "i-0abc12345"}, exitUsage, "AWS or Alibaba"},
		{"no target", []string{"diagnose"}, exitUsage, "exactly one TARGET"},
		{"error text without --symptom", []string{"diagnose", "ins-abc12345", "Connection", "refused"}, exitUsage, `--symptom "Connection refused"`},
		{"bad output", []string{"diagnose", "ins-linux001", "--simulate", "-o", "yaml"}, exitUsage, "--output"},
		{"bad port", []string{"diagnose", "ins-linux001", "--simulate", "--port", "70000"}, exitUsage, "--port"},
		{"unknown flag", []string{"diagnose", "ins-linux001", "--frobnicate"}, exitUsage, "unknown flag"},
		{"bad region", []string{"diagnose", "ins-linux001", "--simulate", "--region", "Mars"}, exitUsage, "tencentcloud.region"},
		{"unknown region, as Slack refuses it", []string{"diagnose", "ins-linux001", "--simulate", "--region", "ap-mars"}, exitUsage, "unknown region \"ap-mars\""},
		{"bad progress", []string{"diagnose", "ins-linux001", "--simulate", "--progress", "yes"}, exitUsage, "--progress"},
		{"not found is a failure", []string{"diagnose", "ins-zzzzzzzz", "--simulate"}, exitFailed, ""},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, append([]string{"--config", cfg}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.errHave) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errOut, tc.code, tc.errHave)
			}
		})
	}
}

// TestDiagnoseCouldNotRun: credentials the API rejects make exit code 3,
// with the cause and what to do.
func TestDiagnoseCouldNotRun(t *testing.T) {
	sim := tencentsim.New(tencentsim.Options{})
	endpoint, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	path := filepath.Join(t.TempDir(), "cvmlogin.yaml")
	config := "tencentcloud:\n  endpoint: " + endpoint + "\n  scheme: http\n  secret_id: AKIDnotknownnotknown\n  secret_key: wrongwrongwrong\n"
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "--config", path, "diagnose", "ins-linux001")
	if code != exitCouldNot {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitCouldNot, errOut)
	}
	if !strings.Contains(out, "credentials rejected") || !strings.Contains(out, "secret_id") {
		t.Fatalf("report does not explain the rejected credentials:\n%s", out)
	}
	if strings.Contains(out+errOut, "wrongwrongwrong") {
		t.Fatal("the secret key leaked into the output")
	}
}

func TestDiagnoseOutputs(t *testing.T) {
	cfg := fastConfig(t)
	for format, want := range map[string]string{
		"text":     "likely cause security_group.login_port",
		"markdown": "| Region | ap-guangzhou |",
		"blocks":   `"action_id": "open_all_ports"`,
	} {
		t.Run(format, func(t *testing.T) {
			code, out, errOut := runCLI(t, "--config", cfg, "diagnose", "ins-sgdrop01", "--simulate", "-o", format)
			if code != exitFailed || !strings.Contains(out, want) {
				t.Fatalf("exit %d, output lacks %q:\n%s\n%s", code, want, out, errOut)
			}
		})
	}
}

// TestDiagnoseProgress: with progress on, stderr says at once that the
// diagnosis started, then one line per check as it finishes; stdout has the
// report alone.
func TestDiagnoseProgress(t *testing.T) {
	code, out, errOut := runCLI(t, "--config", fastConfig(t), "diagnose", "ins-linux001", "--simulate", "--progress", "always")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != 1+len(diag.CheckIDs) || !strings.HasPrefix(lines[0], "Diagnosing ins-linux001 in ap-guangzhou") {
		t.Fatalf("stderr has %d lines, want a start line and one per check:\n%s", len(lines), errOut)
	}
	if want := fmt.Sprintf("[ 1/%d] ✓ instance.found", len(diag.CheckIDs)); !strings.HasPrefix(lines[1], want) {
		t.Errorf("first check line %q, want instance.found first", lines[1])
	}
	if strings.Contains(out, "[ 1/") {
		t.Error("progress went to stdout")
	}
	if _, _, errOut := runCLI(t, "--config", fastConfig(t), "diagnose", "ins-linux001", "--simulate"); errOut != "" {
		t.Errorf("progress shown while stdout is not a terminal:\n%s", errOut)
	}
}

// TestDiagnoseTextFoldsSkippedChecks: a missing instance prints its skipped
// checks on one line, and a private IP is told that only public IPs are
// searched.
func TestDiagnoseTextFoldsSkippedChecks(t *testing.T) {
	_, out, _ := runCLI(t, "--config", fastConfig(t), "diagnose", "ins-zzzzzzzz", "--simulate")
	if n := strings.Count(out, "\n- "); n != 1 {
		t.Errorf("%d lines say skipped, want them folded into one:\n%s", n, out)
	}
	if !strings.Contains(out, fmt.Sprintf("%d checks skipped (instance.found failed", len(diag.CheckIDs)-1)) {
		t.Errorf("the folded line does not give the root cause:\n%s", out)
	}
	_, out, _ = runCLI(t, "--config", fastConfig(t), "diagnose", "10.0.0.3", "--simulate")
	if !strings.Contains(out, "10.0.0.3 is a private address, and only public IPs are searched") {
		t.Errorf("a private IP is not told why it was not found:\n%s", out)
	}
}

// TestREADMEShowsCurrentOutput: the README's sample output is what
// `diagnose ins-sgdrop01 --simulate` prints today, numbers aside (timings
// and load vary from run to run).
func TestREADMEShowsCurrentOutput(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sample, ok := strings.Cut(string(readme), "What the first command prints")
	if !ok {
		t.Fatal("README has no sample output")
	}
	_, sample, _ = strings.Cut(sample, "```\n")
	sample, _, _ = strings.Cut(sample, "```")
	_, out, _ := runCLI(t, "diagnose", "ins-sgdrop01", "--simulate")
	numbers := regexp.MustCompile(`[0-9]+`)
	if got, want := numbers.ReplaceAllString(out, "N"), numbers.ReplaceAllString(sample, "N"); got != want {
		t.Errorf("README sample is stale; today's output:\n%s", out)
	}
}

// TestDiagnoseSymptom: --symptom classifies the error the user saw into the
// JSON report's "symptom" (design.md B7), and leaves it out without one.
func TestDiagnoseSymptom(t *testing.T) {
	cfg := fastConfig(t)
	_, out, errOut := runCLI(t, "--config", cfg, "diagnose", "ins-sgdrop01", "--simulate", "--output", "json",
		"--symptom", "ubuntu@203.0.113.7: Permission denied (publickey).")
	var r struct {
		Symptom *struct{ Text, Family, DocURL string } `json:"symptom"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON (%v); stderr %s", err, errOut)
	}
	if r.Symptom == nil || r.Symptom.Family != "ssh.publickey_denied" || r.Symptom.Text != "ubuntu@203.0.113.7: Permission denied (publickey)." {
		t.Errorf("symptom %+v, want the publickey family with the text", r.Symptom)
	}
	_, out, _ = runCLI(t, "--config", cfg, "diagnose", "ins-sgdrop01", "--simulate", "--output", "json")
	if strings.Contains(out, `"symptom"`) {
		t.Error("a report without --symptom has a symptom field")
	}
}
