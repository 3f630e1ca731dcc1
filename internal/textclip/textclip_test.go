package textclip

import (
	"testing"
	"unicode/utf8"
)

func TestBytes(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"truncated", 5, "trunc…"},
		{"héllo", 2, "h…"}, // é is two bytes: never cut in half
		{"", 0, ""},
		{"x", 0, "…"},
	}
	for _, tc := range tests {
		got := Bytes(tc.s, tc.n)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("Bytes(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
