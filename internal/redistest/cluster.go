package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterMasters is how many masters StartCluster starts.
const clusterMasters = 3

// clusterTimeout bounds creating the cluster and waiting until every node
// reports it healthy.
const clusterTimeout = 30 * time.Second

// StartCluster starts a private Redis Cluster of three masters on loopback
// (redis-server --cluster-enabled yes, joined by redis-cli --cluster
// create) and returns its nodes' addresses. The servers are killed when the
// test ends. It needs redis-server and redis-cli on PATH, whatever EnvAddr
// says, and fails the test, never skips it, when the cluster cannot start
// within 30s.
func StartCluster(tb testing.TB) []string {
	tb.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		tb.Fatalf("redistest: starting a Redis Cluster needs redis-cli on PATH (apt-get install redis-tools): %v", err)
	}
	dir := tb.TempDir()
	var addrs []string
	for range clusterMasters {
		srv, err := startServer("", clusterNodeArgs(dir))
		if err != nil {
			tb.Fatalf("redistest: starting a Redis Cluster node: %v", err)
		}
		tb.Cleanup(srv.kill)
		addrs = append(addrs, srv.addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create %s: %v; its output: %s", strings.Join(addrs, " "), err, out)
	}
	if err := waitClusterOK(ctx, addrs); err != nil {
		tb.Fatalf("redistest: the Redis Cluster on %s did not become healthy: %v", strings.Join(addrs, " "), err)
	}
	return addrs
}

// clusterNodeArgs returns the arguments making a server a cluster node with
// its state in dir. The cluster bus gets a port of its own: the default,
// port+10000, may be out of range or taken.
func clusterNodeArgs(dir string) func(port string) []string {
	return func(port string) []string {
		bus, err := freePort()
		if err != nil {
			bus = "0" // let the server fail loudly
		}
		return []string{"--cluster-enabled", "yes", "--cluster-port", bus,
			"--cluster-config-file", filepath.Join(dir, "nodes-"+port+".conf"),
			"--cluster-node-timeout", "2000", "--dir", dir}
	}
}

// waitClusterOK polls CLUSTER INFO on every node until all report
// cluster_state:ok and know every master, or ctx ends.
func waitClusterOK(ctx context.Context, addrs []string) error {
	var last error
	for {
		last = clusterOK(ctx, addrs)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func clusterOK(ctx context.Context, addrs []string) error {
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		info, err := c.ClusterInfo(ctx).Result()
		c.Close()
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", addr, err)
		case !strings.Contains(info, "cluster_state:ok"):
			return fmt.Errorf("%s: cluster_state is not ok", addr)
		case !strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", len(addrs))):
			return fmt.Errorf("%s: does not know all %d nodes yet", addr, len(addrs))
		}
	}
	return nil
}
