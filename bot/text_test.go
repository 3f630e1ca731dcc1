package bot

import (
	"testing"

	"github.com/cvmlogin/cvmlogin/diag"
)

// TestAlreadyPastIsEnglish: a late decision is told in English whatever the
// request's status ("was already succeeded" was not).
func TestAlreadyPastIsEnglish(t *testing.T) {
	by := " by <@U0APPROVE>"
	tests := []struct {
		status diag.FixStatus
		want   string
	}{
		{diag.FixApproved, "This request was already approved by <@U0APPROVE>"},
		{diag.FixRejected, "This request was already rejected by <@U0APPROVE>"},
		{diag.FixExpired, "This request has already expired"},
		{diag.FixRunning, "This request is already being applied (approved by <@U0APPROVE>)"},
		{diag.FixSucceeded, "This request has already been applied successfully (approved by <@U0APPROVE>)"},
		{diag.FixFailed, "This request was already applied and failed (approved by <@U0APPROVE>)"},
	}
	for _, tc := range tests {
		if got := alreadyPast(tc.status, by); got != tc.want {
			t.Errorf("alreadyPast(%q) = %q, want %q", tc.status, got, tc.want)
		}
	}
}
