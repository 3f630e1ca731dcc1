package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// server is a redis-server process started by this package.
type server struct {
	addr   string
	port   string
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has been reaped
}

// startServer starts redis-server on 127.0.0.1:port, or on a free port when
// port is empty, with extra arguments (extra(port), if not nil), and waits
// until it answers PING.
func startServer(port string, extra ...func(port string) []string) (*server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redistest: no Redis to test against: set %s to a server's host:port, or put redis-server on PATH (apt-get install redis-server): %w", EnvAddr, err)
	}
	if port != "" {
		return launch(path, port, extra...)
	}
	// Another process can take a free port between our choosing and Redis
	// binding it, so try a few.
	var errs []error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		srv, err := launch(path, port, extra...)
		if err == nil {
			return srv, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("redistest: finding a free loopback port: %w", err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

func launch(path, port string, extra ...func(port string) []string) (*server, error) {
	args := []string{"--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--loglevel", "warning"}
	for _, e := range extra {
		args = append(args, e(port)...)
	}
	return spawn(path, port, args...)
}

// spawn runs redis-server at path with args, which must make it listen on
// 127.0.0.1:port, and waits until it answers PING.
func spawn(path, port string, args ...string) (*server, error) {
	var out bytes.Buffer
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	dieWithParent(cmd)
	if err := startOnLockedThread(cmd); err != nil {
		return nil, fmt.Errorf("redistest: starting redis-server: %w", err)
	}
	srv := &server{
		addr:   net.JoinHostPort("127.0.0.1", port),
		port:   port,
		cmd:    cmd,
		exited: make(chan struct{}),
	}
	go func() {
		cmd.Wait()
		close(srv.exited)
	}()
	if err := waitReady(srv.addr, readyTimeout, srv.exited); err != nil {
		srv.kill()
		return nil, fmt.Errorf("redistest: redis-server on port %s did not start: %w; its output: %q", port, err, out.String())
	}
	return srv, nil
}

// kill kills the server and waits until it has exited. Killing an exited
// server does nothing.
func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// waitReady polls addr with PING until it answers, timeout passes, or exited
// is closed (a nil exited never is).
func waitReady(addr string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ping(addr)
		if err == nil {
			return nil
		}
		select {
		case <-deadline.C:
			return fmt.Errorf("no answer to PING within %v: %w", timeout, err)
		case <-exited:
			return errors.New("the process exited")
		case <-tick.C:
		}
	}
}

// ping sends one PING over a new connection. It speaks RESP directly: a
// client's connection pool backs off after failed dials, which would slow the
// polling down.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 250*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(250 * time.Millisecond))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if reply != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(reply))
	}
	return nil
}

// launcher starts processes from one goroutine locked to its OS thread for
// the life of the test binary. On Linux a child's parent-death signal fires
// when the thread that started it exits, so an ordinary goroutine's thread,
// which the runtime may retire, would kill servers early.
var launcher struct {
	once sync.Once
	reqs chan launchRequest
}

type launchRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func startOnLockedThread(cmd *exec.Cmd) error {
	launcher.once.Do(func() {
		launcher.reqs = make(chan launchRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range launcher.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error)
	launcher.reqs <- launchRequest{cmd: cmd, done: done}
	return <-done
}
