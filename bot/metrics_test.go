package bot

import (
	"testing"

	"github.com/cvmlogin/cvmlogin/diag"
)

func TestFixEndOutcome(t *testing.T) {
	tests := []struct {
		status, result, want diag.FixStatus
	}{
		{diag.FixSucceeded, diag.FixSucceeded, "succeeded"},
		{diag.FixSucceeded, diag.FixNotApplicable, "not_applicable"},
		{diag.FixFailed, diag.FixFailed, "failed"},
		{diag.FixFailed, "", "failed"}, // Execute returned an error
	}
	for _, tt := range tests {
		if got := fixEndOutcome(tt.status, diag.FixOutcome{Result: tt.result}); got != tt.want {
			t.Errorf("fixEndOutcome(%q, %q) = %q, want %q", tt.status, tt.result, got, tt.want)
		}
	}
}
