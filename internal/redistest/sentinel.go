package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name StartSentinel's Sentinel monitors.
const SentinelMaster = "cvmlogin-test"

// failoverTimeout bounds how long Sentinel may take to promote the replica.
const failoverTimeout = 30 * time.Second

// Sentinel is a private Sentinel deployment on loopback: a master, one
// replica and one Sentinel (quorum 1).
type Sentinel struct {
	// Addr is the Sentinel's address, for redis.addrs with redis.master_name
	// SentinelMaster.
	Addr   string
	tb     testing.TB
	master *server
}

// StartSentinel starts a master, a replica of it and a Sentinel watching
// them, all on loopback, killed when the test ends. Like StartCluster it
// needs redis-server on PATH and fails the test, never skips it, when they
// cannot start.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	dir := tb.TempDir() // where the replica keeps the copy it syncs, not the package's directory
	inDir := func(string) []string { return []string{"--dir", dir} }
	master, err := startServer("", inDir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(master.kill)
	replica, err := startServer("", inDir, func(string) []string { return []string{"--replicaof", "127.0.0.1", master.port} })
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(replica.kill)
	sentinel, err := startSentinel(dir, master.port)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(sentinel.kill)
	return &Sentinel{Addr: sentinel.addr, tb: tb, master: master}
}

// startSentinel starts redis-server in Sentinel mode, with its (rewritable)
// configuration file in dir, monitoring the master on masterPort.
func startSentinel(dir, masterPort string) (*server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redistest: starting a Sentinel needs redis-server on PATH: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf("port %s\nbind 127.0.0.1\ndir %s\n"+
		"sentinel monitor %s 127.0.0.1 %s 1\n"+
		"sentinel down-after-milliseconds %[3]s 500\n"+
		"sentinel failover-timeout %[3]s 5000\n", port, dir, SentinelMaster, masterPort)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, fmt.Errorf("redistest: writing the Sentinel's configuration: %w", err)
	}
	return spawn(path, port, conf, "--sentinel")
}

// FailOver waits until the replica has everything the master wrote, kills
// the master, and waits until the Sentinel has promoted the replica. It
// fails the test if that takes more than 30s.
func (s *Sentinel) FailOver() {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failoverTimeout)
	defer cancel()
	master := redis.NewClient(&redis.Options{Addr: s.master.addr})
	err := master.Do(ctx, "WAIT", 1, 0).Err()
	master.Close()
	if err != nil {
		s.tb.Fatalf("redistest: waiting for the replica to catch up: %v", err)
	}
	s.master.kill()
	sentinel := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
	defer sentinel.Close()
	for {
		addr, err := sentinel.GetMasterAddrByName(ctx, SentinelMaster).Result()
		if err == nil && net.JoinHostPort(addr[0], addr[1]) != s.master.addr {
			return
		}
		select {
		case <-ctx.Done():
			s.tb.Fatalf("redistest: the Sentinel did not promote the replica within %v (master %v, %v)", failoverTimeout, addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
