package bot

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
)

// sampleWatch is a watch of TCP 22 of ins-abc12345 for U024BE7LH.
func sampleWatch() conversations.Watch {
	return conversations.Watch{ID: "w", InstanceID: "ins-abc12345", Port: 22, User: "U024BE7LH"}
}

// serviceCheck is an in-guest check that found sshd in state, listening on
// the given ports.
func serviceCheck(state string, listening ...int) *diag.ServiceCheck {
	return &diag.ServiceCheck{Facts: diag.GuestFacts{OS: diag.OSLinux, LoginService: "sshd", LoginServiceState: state, ListeningPorts: listening}}
}

var (
	answered  = diag.WatchResult{Reachable: true, Since: time.Date(2026, 11, 28, 14, 32, 5, 0, time.UTC), Attempts: 7, Waited: 95 * time.Second}
	neverOpen = diag.WatchResult{Attempts: 31, LastError: "dial tcp 203.0.113.7:22: connect: connection refused", Waited: 10*time.Minute + 300*time.Millisecond}
)

func withService(r diag.WatchResult, c *diag.ServiceCheck) diag.WatchResult {
	r.Service = c
	return r
}

// watchCases are the ways a login watch ends.
var watchCases = []struct {
	name string
	res  diag.WatchResult
	// want are parts of the line, in order; tcp and service say which of
	// "TCP answers" and "login service running" hold.
	want         []string
	tcp, service bool
}{
	{"port ok, service ok", withService(answered, serviceCheck("active", 22)),
		[]string{":white_check_mark: TCP 22 of ins-abc12345 answers since 14:32:05 UTC", "and sshd is running in the guest (active, listening on 22)", "<@U024BE7LH>"}, true, true},
	{"port ok, socket-activated service", withService(answered, &diag.ServiceCheck{Facts: diag.GuestFacts{LoginService: "ssh", LoginServiceState: "inactive", LoginSocket: "ssh.socket", ListeningPorts: []int{22}}}),
		[]string{"answers since", "and ssh is running in the guest (ssh.socket listens on 22)"}, true, true},
	{"port ok, service down", withService(answered, serviceCheck("inactive", 22)),
		[]string{":warning: TCP 22 of ins-abc12345 answers since 14:32:05 UTC", "but sshd is not running in the guest (inactive; something else listens on 22)", "re-diagnose if it fails"}, true, false},
	{"port ok, service not listening", withService(answered, serviceCheck("active")),
		[]string{":warning:", "but sshd is not running in the guest (active, but not listening on 22)"}, true, false},
	{"port ok, check failed", withService(answered, &diag.ServiceCheck{Err: "tat:RunCommand: ResourceUnavailable.AgentStatusNotOnline"}),
		[]string{":white_check_mark:", "but the login service could not be checked in the guest (tat:RunCommand: ResourceUnavailable.AgentStatusNotOnline)"}, true, false},
	{"port ok, not checked", answered,
		[]string{":white_check_mark: TCP 22 of ins-abc12345 answers since 14:32:05 UTC (the login service in the guest was not checked)"}, true, false},
	{"port never answers, service ok", withService(neverOpen, serviceCheck("active", 22)),
		[]string{":x: TCP 22 of ins-abc12345 still does not answer after 10m0s (dial tcp 203.0.113.7:22: connect: connection refused)", "although sshd is running in the guest (active, listening on 22): the network path still blocks it", "A new diagnosis follows."}, false, true},
	{"port never answers, service down", withService(neverOpen, serviceCheck("inactive")),
		[]string{":x:", "still does not answer", "and sshd is not running in the guest (inactive; nothing listens on 22). A new diagnosis follows."}, false, false},
	{"port never answers, Remote Desktop off", withService(neverOpen, &diag.ServiceCheck{Facts: diag.GuestFacts{LoginService: "TermService", LoginServiceState: "running", RDPDenied: true}}),
		[]string{"and TermService is not running in the guest (Remote Desktop is disabled: fDenyTSConnections is 1)"}, false, false},
	{"port never answers, not checked", neverOpen,
		[]string{":x: TCP 22 of ins-abc12345 still does not answer after 10m0s (dial tcp 203.0.113.7:22: connect: connection refused). A new diagnosis follows."}, false, false},
}

// TestWatchLine: the line that ends a watch says which of "TCP answers" and
// "the login service runs" hold, and what to do.
func TestWatchLine(t *testing.T) {
	for _, tc := range watchCases {
		t.Run(tc.name, func(t *testing.T) {
			line := watchLine(sampleWatch(), tc.res)
			rest := line
			for _, part := range tc.want {
				i := strings.Index(rest, part)
				if i < 0 {
					t.Fatalf("line %q lacks %q (in order)", line, part)
				}
				rest = rest[i+len(part):]
			}
			_, running := serviceClause(tc.res.Service, 22)
			if tc.res.Reachable != tc.tcp || running != tc.service {
				t.Errorf("TCP answers %v, service running %v; want %v, %v", tc.res.Reachable, running, tc.tcp, tc.service)
			}
		})
	}
}

// TestWatchLinesGolden pins the wording of every way a watch ends, and the
// escaping of what the guest and the network said.
func TestWatchLinesGolden(t *testing.T) {
	var b strings.Builder
	for _, tc := range watchCases {
		fmt.Fprintf(&b, "--- %s ---\n%s\n", tc.name, watchLine(sampleWatch(), tc.res))
	}
	hostile := withService(neverOpen, &diag.ServiceCheck{Facts: diag.GuestFacts{LoginService: "<!channel>", LoginServiceState: "*failed*"}})
	hostile.LastError = "<https://evil.example|click>"
	fmt.Fprintf(&b, "--- mrkdwn from the guest and the network ---\n%s\n", watchLine(sampleWatch(), hostile))
	assertGolden(t, []byte(b.String()), ".golden.txt")
}
