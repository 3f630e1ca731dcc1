package defaults

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for _, tc := range []struct{ d, want time.Duration }{{0, time.Minute}, {-time.Second, time.Minute}, {time.Second, time.Second}} {
		if got := Duration(tc.d, time.Minute); got != tc.want {
			t.Errorf("Duration(%s, 1m) = %s, want %s", tc.d, got, tc.want)
		}
	}
}
