package bot

import (
	"errors"
	"strings"
	"testing"

	"github.com/cvmlogin/cvmlogin/diag"
)

// knownRegions is the region check the tests pass to ParseCommand.
func knownRegions(region string) bool {
	switch region {
	case "ap-guangzhou", "ap-shanghai", "ap-shanghai-fsi", "na-siliconvalley":
		return true
	}
	return false
}

func TestParseCommand(t *testing.T) {
	id := diag.Target{Raw: "ins-abc12345", Kind: diag.TargetInstanceID}
	ip := diag.Target{Raw: "1.2.3.4", Kind: diag.TargetPublicIP}
	name := diag.Target{Raw: "web-1", Kind: diag.TargetName}
	tests := []struct {
		name string
		text string
		want Request
	}{
		{"instance ID", "ins-abc12345", Request{Target: id}},
		{"surrounding spaces", "  ins-abc12345 \n", Request{Target: id}},
		{"IP", "1.2.3.4", Request{Target: ip}},
		{"name", "web-1", Request{Target: name}},
		{"region", "ins-abc12345 ap-shanghai", Request{Target: id, Region: "ap-shanghai"}},
		{"three-part region", "ins-abc12345 ap-shanghai-fsi", Request{Target: id, Region: "ap-shanghai-fsi"}},
		{"--port N", "ins-abc12345 --port 2222", Request{Target: id, Port: 2222}},
		{"--port=N", "ins-abc12345 --port=2222", Request{Target: id, Port: 2222}},
		{"-p N", "ins-abc12345 -p 2222", Request{Target: id, Port: 2222}},
		{"port before target", "--port 2222 ins-abc12345 ap-guangzhou", Request{Target: id, Region: "ap-guangzhou", Port: 2222}},
		{"everything", "1.2.3.4 na-siliconvalley -p 65535", Request{Target: ip, Region: "na-siliconvalley", Port: 65535}},
		{"port 1", "web-1 --port=1", Request{Target: name, Port: 1}},
		{"smart dash from macOS", "ins-abc12345 —port 2222", Request{Target: id, Port: 2222}},
		{"en dash", "ins-abc12345 –port=2222", Request{Target: id, Port: 2222}},
		{"non-breaking space", "ins-abc12345\u00a0ap-shanghai", Request{Target: id, Region: "ap-shanghai"}},
		{"mention", "<@U0LAN0Z89> ins-abc12345", Request{Target: id}},
		{"mention with label", "<@U0LAN0Z89|cvmlogin> ins-abc12345 ap-shanghai", Request{Target: id, Region: "ap-shanghai"}},
		{"auto-linked IP", "<http://1.2.3.4|1.2.3.4> ap-shanghai", Request{Target: ip, Region: "ap-shanghai"}},
		{"auto-linked IP without label", "<http://1.2.3.4>", Request{Target: ip}},
		{"auto-linked host name", "<https://web-1|web-1>", Request{Target: name}},
		{"mailto link", "<mailto:web-1|web-1>", Request{Target: name}},
		{"code span", "`ins-abc12345`", Request{Target: id}},
		{"symptom", "ins-abc12345 Permission denied (publickey).", Request{Target: id, Symptom: "Permission denied (publickey)."}},
		{"symptom after region and port", "ins-abc12345 ap-shanghai --port 2222 ssh: connect to host 203.0.113.7 port 2222: Connection refused",
			Request{Target: id, Region: "ap-shanghai", Port: 2222, Symptom: "ssh: connect to host 203.0.113.7 port 2222: Connection refused"}},
		{"unknown symptom of several words", "1.2.3.4 it just hangs", Request{Target: ip, Symptom: "it just hangs"}},
		{"known symptom after a name", "web-1 Host key verification failed.", Request{Target: name, Symptom: "Host key verification failed."}},
		{"escaped symptom", "ins-abc12345 kex_exchange_identification: read: Connection reset by peer &lt;x&gt;",
			Request{Target: id, Symptom: "kex_exchange_identification: read: Connection reset by peer <x>"}},
		{"help", "help", Request{Help: true}},
		{"HELP", " HELP ", Request{Help: true}},
		{"--help", "ins-abc12345 --help", Request{Help: true}},
		{"mention help", "<@U0LAN0Z89> help", Request{Help: true}},
		{"a name that is help", "help ap-shanghai", Request{Target: diag.Target{Raw: "help", Kind: diag.TargetName}, Region: "ap-shanghai"}},
		{"a sentence gets help", "<@U0LAN0Z89> hello can you help?", Request{Help: true}},
		{"a question gets help", "<@U0LAN0Z89> what's wrong with my server", Request{Help: true}},
		{"a greeting gets help", "<@U0LAN0Z89> hi!", Request{Help: true}},
		{"a name and a region is a command", "hello ap-shanghai", Request{Target: diag.Target{Raw: "hello", Kind: diag.TargetName}, Region: "ap-shanghai"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCommand(tc.text, knownRegions)
			if err != nil {
				t.Fatalf("ParseCommand(%q) = %v", tc.text, err)
			}
			if got != tc.want {
				t.Errorf("ParseCommand(%q) = %+v, want %+v", tc.text, got, tc.want)
			}
		})
	}
}

func TestParseCommandErrors(t *testing.T) {
	tests := []struct {
		name        string
		text        string
		knownRegion func(string) bool
		want        string // the whole error text, or its start when it ends in "…"
	}{
		{"empty", "", knownRegions, "tell me which instance to diagnose.\n\n*Diagnose why you can't log in…"},
		{"only a mention", "<@U0LAN0Z89>", knownRegions, "tell me which instance to diagnose.…"},
		{"only options", "--port 22", knownRegions, "tell me which instance to diagnose: name an instance as well, e.g. `/cvm-login ins-abc12345 --port 22`"},
		{"unknown region", "ins-abc12345 ap-mars", knownRegions, "unknown region \"ap-mars\": try `/cvm-login ins-abc12345 ap-shanghai`"},
		{"unknown region names the target", "web-1 ap-mars", knownRegions, "unknown region \"ap-mars\": try `/cvm-login web-1 ap-shanghai`"},
		{"not a region", "ins-abc12345 shanghai", nil, "\"shanghai\" is not a region: a region looks like ap-shanghai, e.g. `/cvm-login ins-abc12345 ap-shanghai`"},
		{"swapped", "ap-shanghai ins-abc12345", knownRegions, "the target comes first, then the region: try `/cvm-login ins-abc12345 ap-shanghai`"},
		{"swapped IP", "ap-guangzhou 1.2.3.4", knownRegions, "the target comes first, then the region: try `/cvm-login 1.2.3.4 ap-guangzhou`"},
		{"extra word", "ins-abc12345 ap-shanghai now", knownRegions, "unexpected \"now\": give one target and at most one region, e.g. `/cvm-login ins-abc12345 ap-shanghai`"},
		{"stray flag", "ins-abc12345 --force", knownRegions, "unknown option --force: the only option is --port, e.g. `/cvm-login ins-abc12345 ap-shanghai --port 2222`"},
		{"stray flag with value", "ins-abc12345 --region=ap-shanghai", knownRegions, "unknown option --region: the only option is --port…"},
		{"port missing", "ins-abc12345 --port", knownRegions, "--port needs a port number, e.g. `/cvm-login ins-abc12345 ap-shanghai --port 2222`"},
		{"port not a number", "ins-abc12345 -p ssh", knownRegions, "bad port \"ssh\": a login port is a number from 1 to 65535, e.g. `/cvm-login ins-abc12345 ap-shanghai --port 2222`"},
		{"port 0", "ins-abc12345 --port=0", knownRegions, "bad port \"0\": a login port is a number from 1 to 65535…"},
		{"port too big", "ins-abc12345 --port 65536", knownRegions, "bad port \"65536\"…"},
		{"port empty", "ins-abc12345 --port=", knownRegions, "bad port \"\"…"},
		{"port twice", "ins-abc12345 --port 22 -p 2222", knownRegions, "the port is given twice: give --port once…"},
		{"bad instance ID", "ins-ABC", knownRegions, "\"ins-ABC\" is not a valid instance ID…"},
		{"AWS ID", "i-0abcd1234", knownRegions, "\"i-0abcd1234\" looks like an AWS or Alibaba Cloud instance ID…"},
		{"bad IP", "1.2.3.400", knownRegions, "\"1.2.3.400\" is not a valid IPv4 address…"},
		{"channel mention is escaped", "<!channel>", knownRegions, "\"&lt;!channel&gt;\" is not a valid instance name: it contains '&lt;'…"},
		{"user mention mid-text", "ins-abc12345 <@U123>", knownRegions, "\"&lt;@U123&gt;\" is not a region…"},
		{"HTML entity undone then rejected", "web&amp;1", knownRegions, "\"web&amp;1\" is not a valid instance name: it contains '&amp;'…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := ParseCommand(tc.text, tc.knownRegion)
			if err == nil {
				t.Fatalf("ParseCommand(%q) = %+v, want an error", tc.text, req)
			}
			if req != (Request{}) {
				t.Errorf("ParseCommand(%q) returned %+v with its error", tc.text, req)
			}
			want, prefix := strings.CutSuffix(tc.want, "…")
			if got := err.Error(); got != want && !(prefix && strings.HasPrefix(got, want)) {
				t.Errorf("ParseCommand(%q) error:\n got %q\nwant %q", tc.text, got, tc.want)
			}
		})
	}
}

func TestParseCommandErrorIs(t *testing.T) {
	_, err := ParseCommand("", nil)
	if !errors.Is(err, ErrNoTarget) {
		t.Errorf("ParseCommand(\"\") = %v, want ErrNoTarget", err)
	}
	if !strings.Contains(err.Error(), Usage()) {
		t.Error("the empty-command error does not show the usage")
	}
}

func TestParseCommandBoundsErrorText(t *testing.T) {
	_, err := ParseCommand(strings.Repeat("<", 5000), nil)
	if err == nil || len([]rune(err.Error())) > maxUserErrorLen {
		t.Errorf("error of %d characters, want at most %d", len([]rune(err.Error())), maxUserErrorLen)
	}
}

func TestUsage(t *testing.T) {
	u := Usage()
	for _, want := range []string{"/cvm-login TARGET [REGION] [--port N]", "/cvm-login help", "@cvmlogin", "`/cvm-login ins-abc12345`", "--port", "security-group", "read-only"} {
		if !strings.Contains(u, want) {
			t.Errorf("Usage does not mention %q", want)
		}
	}
	if len([]rune(u)) > maxSectionText || strings.ContainsAny(u, "<>&") {
		t.Error("Usage does not fit one section block as plain mrkdwn")
	}
}

func TestRequestString(t *testing.T) {
	tests := []struct {
		req  Request
		want string
	}{
		{Request{Help: true}, "help"},
		{Request{Target: diag.Target{Raw: "ins-abc12345"}}, "ins-abc12345"},
		{Request{Target: diag.Target{Raw: "1.2.3.4"}, Region: "ap-shanghai", Port: 2222}, "1.2.3.4 ap-shanghai --port 2222"},
	}
	for _, tc := range tests {
		if got := tc.req.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.req, got, tc.want)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, seed := range []string{
		"", "help", "ins-abc12345", "ins-abc12345 ap-shanghai --port 2222", "1.2.3.4 -p 22", "web-1 --port=3389",
		"<@U0LAN0Z89> ins-abc12345", "<http://1.2.3.4|1.2.3.4> ap-guangzhou", "—port 22 web-1", "`web-1` na-siliconvalley",
		"ap-shanghai ins-abc12345", "web&amp;1", "--port 22 --port 23", "名前 ap-shanghai", "-", "<>", "ins-abc12345 <#C123|ops>",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, known := range []func(string) bool{nil, knownRegions} {
			req, err := ParseCommand(text, known)
			if err != nil {
				if err.Error() == "" {
					t.Fatalf("ParseCommand(%q): empty error", text)
				}
				continue
			}
			again, err := ParseCommand(req.String(), known)
			if err != nil {
				t.Fatalf("ParseCommand(%q) = %+v, but its String %q does not parse: %v", text, req, req.String(), err)
			}
			if again != req {
				t.Fatalf("ParseCommand(%q) = %+v; round trip through %q gives %+v", text, req, req.String(), again)
			}
			if !req.Help && (req.Target.Raw == "" || req.Port < 0 || req.Port > 65535) {
				t.Fatalf("ParseCommand(%q) = %+v: invalid request", text, req)
			}
		}
	})
}
