package diag_test

import (
	"context"
	"testing"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
)

// TestTagReaderRemembersMissingInstances: a storm of alarms for an
// instance that does not exist (terminated, or a typo in a webhook) costs
// one DescribeInstances per region searched, as a storm on a real instance
// costs one. Finding 5 (fixed).
func TestTagReaderRemembersMissingInstances(t *testing.T) {
	ctx := context.Background()
	client, sim := simClient(t, tencentsim.Options{})
	tags := diag.NewTagReader(client, "ap-guangzhou", []string{"ap-shanghai"}, 0)
	for range 20 {
		if _, err := tags.InstanceTags(ctx, "", "ins-gone0001"); err == nil {
			t.Fatal("a missing instance has tags")
		}
	}
	if n := sim.CallCount("cvm", "DescribeInstances"); n > 2 {
		t.Errorf("20 lookups of a missing instance made %d DescribeInstances calls, want at most 2", n)
	}
}
