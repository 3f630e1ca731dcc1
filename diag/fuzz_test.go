package diag

import (
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSecurityGroupRule evaluates one ingress rule with arbitrary protocol,
// port, CIDR and action text, as the Tencent API could return it. Whatever
// the text, evaluation must not panic, and it may say "accept from anywhere"
// only for an ACCEPT rule whose CIDR is an IPv4 /0 and whose protocol and
// port spec demonstrably cover the traffic. Seeds are in testdata/fuzz.
func FuzzSecurityGroupRule(f *testing.F) {
	for _, s := range []struct {
		proto, port, cidr, action string
		traffic                   uint16
	}{
		{"TCP", "22", "0.0.0.0/0", "ACCEPT", 22},
		{"ALL", "ALL", "0.0.0.0/0", "DROP", 3389},
		{"tcp", "20-25", " 0.0.0.0/0 ", "accept", 22},
		{"TCP", "80, 3380-3390", "10.0.0.0/8", "ACCEPT", 3389},
		{"ICMP", "", "0.0.0.0/0", "ACCEPT", 0},
		{"TCP", "22", "::/0", "ACCEPT", 22},
		{"TCP", "22", "203.0.113.7", "ACCEPT", 22},
		{"UDP", "22", "0.0.0.0/0", "ACCEPT", 22},
	} {
		f.Add(s.proto, s.port, s.cidr, s.action, s.traffic)
	}
	f.Fuzz(func(t *testing.T, proto, port, cidr, action string, traffic uint16) {
		p := SecurityGroupPolicy{Index: 0, Protocol: proto, Port: port, CidrBlock: cidr, Action: action}
		tr := Traffic{Protocol: "TCP", Port: int(traffic)}
		d := EvaluateIngress([]SecurityGroupPolicies{{GroupID: "sg-fuzz", Ingress: []SecurityGroupPolicy{p}}}, tr)
		switch d.Verdict {
		case VerdictAccept, VerdictDrop, VerdictPartial:
			if d.Decider == nil && d.Verdict != VerdictPartial {
				t.Fatalf("%+v: verdict %s without a deciding rule", p, d.Verdict)
			}
		case VerdictNoMatch, VerdictIndeterminate:
		default:
			t.Fatalf("%+v: unknown verdict %q", p, d.Verdict)
		}
		if d.Verdict != VerdictAccept {
			return
		}
		if !strings.EqualFold(action, "ACCEPT") {
			t.Fatalf("%+v: accepted by a rule whose action is %q", p, action)
		}
		if prefix, err := netip.ParsePrefix(strings.TrimSpace(cidr)); err != nil || !prefix.Addr().Is4() || prefix.Bits() != 0 {
			t.Fatalf("%+v: accepted from anywhere by CIDR %q", p, cidr)
		}
		if !strings.EqualFold(strings.TrimSpace(proto), "ALL") {
			spec, err := ParsePortSpec(port)
			if err != nil || !spec.Contains(int(traffic)) {
				t.Fatalf("%+v: accepted TCP %d though port spec %q does not cover it (%v)", p, traffic, port, err)
			}
		}
	})
}

// FuzzParseGuestFacts parses arbitrary output of the in-guest script, which
// a broken or hostile guest controls. Parsing must not panic; its error must
// be printable; what it parses must be in range, and survive a round trip
// through Format. Seeds are in testdata/fuzz.
func FuzzParseGuestFacts(f *testing.F) {
	for _, seed := range []string{
		GuestFacts{OS: "linux", LoginService: "sshd", LoginServiceState: "active", ListeningPorts: []int{22, 80}, DiskUsedPercent: 42.5, InodeUsedPercent: 3}.Format(),
		"cvmlogin.os=Windows\r\ncvmlogin.rdp_denied=1\r\ncvmlogin.listening_ports=3389, 3389,0,70000,x\r\n",
		"Last login: yesterday\ncvmlogin.disk_used_percent=101%\ncvmlogin.inode_used_percent=NaN\n",
		"no facts at all \xff\xfe",
		"cvmlogin.login_service = sshd = yes \ncvmlogin.=x\ncvmlogin.os\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, out string) {
		g, err := ParseGuestFacts(out)
		if err != nil {
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("error is not valid UTF-8: %q", err.Error())
			}
			return
		}
		if !slices.IsSorted(g.ListeningPorts) || len(slices.Compact(slices.Clone(g.ListeningPorts))) != len(g.ListeningPorts) {
			t.Fatalf("ports %v: not sorted and unique", g.ListeningPorts)
		}
		for _, port := range g.ListeningPorts {
			if port < 1 || port > 65535 {
				t.Fatalf("impossible port %d", port)
			}
		}
		for _, v := range []float64{g.DiskUsedPercent, g.InodeUsedPercent} {
			if math.IsNaN(v) || (v != -1 && (v < 0 || v > 100)) {
				t.Fatalf("percentage %v out of range", v)
			}
		}
		again, err := ParseGuestFacts(g.Format())
		if err != nil || !guestFactsEqual(again, g) {
			t.Fatalf("round trip of %+v through Format gives %+v (%v)", g, again, err)
		}
	})
}

func guestFactsEqual(a, b GuestFacts) bool {
	return a.OS == b.OS && a.LoginService == b.LoginService && a.LoginServiceState == b.LoginServiceState &&
		slices.Equal(a.ListeningPorts, b.ListeningPorts) && a.DiskUsedPercent == b.DiskUsedPercent &&
		a.InodeUsedPercent == b.InodeUsedPercent && a.RDPDenied == b.RDPDenied
}
