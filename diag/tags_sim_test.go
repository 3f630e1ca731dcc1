package diag_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
)

// addTagged adds n instances tagged team=<i> in region and returns their IDs.
func addTagged(t *testing.T, sim *tencentsim.Sim, region string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		sc := tencentsim.DefaultScenario()
		sc.ID, sc.Region, sc.Tags = fmt.Sprintf("ins-tagged%02d", i), region, map[string]string{"env": "prod", "team": fmt.Sprint(i)}
		if err := sim.AddScenario(sc); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sc.ID)
	}
	return ids
}

// TestTagReader: the tags come from DescribeInstances, in the regions
// searched in order; a second lookup is remembered; concurrent lookups
// share requests; an instance found nowhere or an API error is an error.
func TestTagReader(t *testing.T) {
	ctx := context.Background()
	client, sim := simClient(t, tencentsim.Options{})
	ids := addTagged(t, sim, "ap-shanghai", 10)
	tags := diag.NewTagReader(client, "ap-guangzhou", []string{"ap-shanghai"}, 0)

	for range 2 {
		got, err := tags.InstanceTags(ctx, "", ids[0])
		if want := map[string]string{"env": "prod", "team": "0"}; err != nil || !maps.Equal(got, want) {
			t.Fatalf("tags %v, %v; want %v", got, err, want)
		}
	}
	if n := sim.CallCount("cvm", "DescribeInstances"); n != 2 { // ap-guangzhou, then ap-shanghai; then the cache
		t.Errorf("%d DescribeInstances calls, want 2", n)
	}

	sim.ResetCalls()
	var wg sync.WaitGroup
	for _, id := range ids[1:] {
		wg.Go(func() {
			if got, err := tags.InstanceTags(ctx, "ap-shanghai", id); err != nil || got["env"] != "prod" {
				t.Errorf("%s: %v, %v", id, got, err)
			}
		})
	}
	wg.Wait()
	t.Logf("9 concurrent lookups: %d DescribeInstances calls", sim.CallCount("cvm", "DescribeInstances"))
	if n := sim.CallCount("cvm", "DescribeInstances"); n > 3 {
		t.Errorf("9 concurrent lookups made %d DescribeInstances calls, want them merged", n)
	}

	if _, err := tags.InstanceTags(ctx, "", "ins-nothere"); err == nil {
		t.Error("an unknown instance has tags")
	}
	sim.SetFault("cvm", "DescribeInstances", "InternalError")
	if _, err := tags.InstanceTags(ctx, "", ids[9]); err == nil {
		t.Error("an API error gave tags")
	}
}
