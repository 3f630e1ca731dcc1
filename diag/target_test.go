package diag

import (
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in       string
		kind     TargetKind
		errHas   string
		wantText string
	}{
		{in: "ins-abc12345", kind: TargetInstanceID},
		{in: "  ins-r8hr2upy ", kind: TargetInstanceID, wantText: "ins-r8hr2upy"},
		{in: "203.0.113.10", kind: TargetPublicIP},
		{in: "127.0.0.11", kind: TargetPublicIP},
		{in: "web-1", kind: TargetName},
		{in: "数据库-主", kind: TargetName},
		{in: "", errHas: "no target"},
		{in: "ins-ABC12345", errHas: "not a valid instance ID"},
		{in: "ins-abc1234", errHas: "8 lowercase"},
		{in: "ins-abc123456", errHas: "ins-abc12345"},
		{in: "i-0abc123def", errHas: "AWS or Alibaba"},
		{in: "sg-12345678", errHas: "not an instance"},
		{in: "999.1.1.1", errHas: "not a valid IPv4"},
		{in: "1.2.3", errHas: "not a valid IPv4"},
		{in: "web 1", errHas: "contains"},
		{in: "a;rm", errHas: "contains"},
		{in: "--force", errHas: "unknown option"},
		{in: strings.Repeat("x", 129), errHas: "at most 128"},
	}
	for _, tc := range tests {
		got, err := ParseTarget(tc.in)
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("ParseTarget(%q) error %v, want one containing %q", tc.in, err, tc.errHas)
			}
			continue
		}
		if err != nil || got.Kind != tc.kind {
			t.Errorf("ParseTarget(%q) = %+v, %v; want kind %s", tc.in, got, err, tc.kind)
		}
		if tc.wantText != "" && got.Raw != tc.wantText {
			t.Errorf("ParseTarget(%q).Raw = %q, want %q", tc.in, got.Raw, tc.wantText)
		}
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, seed := range []string{"ins-abc12345", "1.2.3.4", "web-1", "", "i-123", "ins-", "::1", "a\nb", "ins-abcdefgh\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTarget(s)
		if err != nil {
			if !strings.Contains(err.Error(), TargetExample) && !strings.Contains(err.Error(), "203.0.113.10") {
				t.Fatalf("error for %q shows no example: %v", s, err)
			}
			return
		}
		again, err := ParseTarget(got.Raw)
		if err != nil || again != got {
			t.Fatalf("ParseTarget(%q) = %+v does not round-trip: %+v, %v", s, got, again, err)
		}
		if strings.ContainsAny(got.Raw, " \t\n;|&`") {
			t.Fatalf("accepted unsafe target %q", got.Raw)
		}
	})
}
