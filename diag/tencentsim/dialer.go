package tencentsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"syscall"
)

// Dialer stands in for the port probe's net.Dialer under --simulate. It
// answers a connection to a scenario instance's public IP:port as the
// instance's current state would: connected, refused, or silently dropped.
// It only ever opens connections to the Sim's own loopback listener.
type Dialer struct {
	sim *Sim
	// dial opens the real loopback connection; tests replace it.
	dial func(ctx context.Context, addr netip.AddrPort) (net.Conn, error)
}

// Dialer returns a Dialer for the Sim's instances.
func (s *Sim) Dialer() *Dialer { return &Dialer{sim: s, dial: dialLoopback} }

// fate is what a TCP SYN to an instance's public address meets.
type fate int

const (
	fateUnknown fate = iota // no instance has the address
	fateOpen                // something listens: connected
	fateRefused             // the SYN arrives, nothing listens: RST
	fateDropped             // the SYN never arrives or is dropped: timeout
)

// DialContext connects to addr ("IP:port", IPv4 or IPv6) as the probe would
// reach a scenario instance. It never dials addr itself: a public IPv6
// address is answered from loopback like the IPv4 ones. An open port yields a real connection to the Sim's
// loopback listener (its RemoteAddr is addr); a closed one a "connection
// refused" *net.OpError; an unreachable one blocks until ctx is done and
// returns a timeout net.Error. An address of no instance fails at once.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	target, err := netip.ParseAddrPort(addr)
	if err != nil || !slices.Contains([]string{"tcp", "tcp4", "tcp6"}, network) {
		return nil, dialError(network, addr, fmt.Errorf("tencentsim dialer: %s %q is not a TCP address and port", network, addr))
	}
	switch d.sim.fate(target) {
	case fateOpen:
		return d.connect(ctx, network, target)
	case fateRefused:
		return nil, dialError(network, addr, &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED})
	case fateDropped:
		return nil, d.sim.waitDropped(ctx, network, addr)
	}
	return nil, dialError(network, addr, fmt.Errorf("tencentsim dialer: no simulated instance has the public IP %s", target.Addr()))
}

func (d *Dialer) connect(ctx context.Context, network string, target netip.AddrPort) (net.Conn, error) {
	listener, err := d.sim.probeListener()
	if err != nil {
		return nil, dialError(network, target.String(), err)
	}
	conn, err := d.dial(ctx, listener)
	if err != nil {
		return nil, dialError(network, target.String(), err)
	}
	return remoteAs{Conn: conn, remote: net.TCPAddrFromAddrPort(target)}, nil
}

// remoteAs is a connection that reports the simulated address as its peer.
type remoteAs struct {
	net.Conn
	remote net.Addr
}

// RemoteAddr implements net.Conn.
func (c remoteAs) RemoteAddr() net.Addr { return c.remote }

func dialError(network, addr string, err error) error {
	return &net.OpError{Op: "dial", Net: network, Addr: stringAddr{network, addr}, Err: err}
}

type stringAddr struct{ network, addr string }

func (a stringAddr) Network() string { return a.network }
func (a stringAddr) String() string  { return a.addr }

// waitDropped blocks like a SYN that gets no answer: until ctx is done (a
// timeout when its deadline passed) or the Sim closes.
func (s *Sim) waitDropped(ctx context.Context, network, addr string) error {
	select {
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return dialError(network, addr, os.ErrDeadlineExceeded) // i/o timeout, Timeout() true
		}
		return dialError(network, addr, ctx.Err())
	case <-s.closed:
		return dialError(network, addr, net.ErrClosed)
	}
}

// dialLoopback connects to the Sim's listener. It refuses anything outside
// loopback, whatever the caller asks.
func dialLoopback(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	if !addr.Addr().IsLoopback() {
		return nil, fmt.Errorf("tencentsim dialer: refusing to dial %s: not a loopback address", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr.String())
}

// fate decides what a connection to target meets, from current state.
func (s *Sim) fate(target netip.AddrPort) fate {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	in := s.instanceWithPublicIP(target.Addr().String())
	switch {
	case in == nil:
		return fateUnknown
	case !s.reachableLocked(in, int(target.Port()), target.Addr().Is6()):
		return fateDropped
	case !slices.Contains(in.listeningPorts(), int(target.Port())):
		return fateRefused
	}
	return fateOpen
}

// reachableLocked reports whether TCP from the internet to port crosses the
// public network, the security groups (by the simulator's own reading of
// the rules, see Admits) and the guest firewall to the instance.
func (s *Sim) reachableLocked(in *instance, port int, v6 bool) bool {
	sc := in.sc
	if !in.running() || in.isolated() || sc.BandwidthOutMbps <= 0 || sc.Address.Blocked || sc.DDoSStatus == ddosBlocked ||
		(sc.Guest.FirewallBlocksLoginPort && port == sc.LoginPort) {
		return false
	}
	groups := make([]SecurityGroup, len(in.groupIDs))
	for i, id := range in.groupIDs {
		groups[i] = s.groups[id].securityGroup()
	}
	return ProbeAccepts(groups, s.referencesLocked(), port, v6)
}

// referencesLocked is what rules can refer to: every template, and the
// private IPs behind every security group.
func (s *Sim) referencesLocked() References {
	refs := References{Members: map[string][]string{}}
	for _, t := range s.templates {
		refs.Templates = append(refs.Templates, t.Template)
	}
	for _, in := range s.instances {
		for _, id := range in.groupIDs {
			refs.Members[id] = append(refs.Members[id], in.sc.PrivateIPs...)
		}
	}
	return refs
}

// probeListener returns the address of the loopback listener that stands
// for every open port, starting it on first use. It accepts connections and
// closes them.
func (s *Sim) probeListener() (netip.AddrPort, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return netip.AddrPort{}, net.ErrClosed
	default:
	}
	if s.probeTarget == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("tencentsim: starting the probe listener: %w", err)
		}
		s.probeTarget = ln
		go acceptAndClose(ln)
	}
	return s.probeTarget.Addr().(*net.TCPAddr).AddrPort(), nil
}

func acceptAndClose(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return // closed
		}
		_ = conn.Close()
	}
}
