package redistest

import (
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestStartClusterServesEverySlot(t *testing.T) {
	addrs := StartCluster(t)
	if len(addrs) != 3 {
		t.Fatalf("%d nodes, want 3", len(addrs))
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer c.Close()
	masters := map[string]bool{}
	for i := range 30 {
		key := fmt.Sprintf("k%d", i)
		if err := c.Set(t.Context(), key, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
		node, err := c.MasterForKey(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		masters[node.Options().Addr] = true
	}
	if len(masters) != 3 {
		t.Errorf("30 keys landed on %d masters, want all 3", len(masters))
	}
}
