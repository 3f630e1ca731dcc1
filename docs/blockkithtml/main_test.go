package main

import (
	"os"
	"strings"
	"testing"
)

// TestRendersTheReportGolden draws a golden report message and finds its
// parts in the page: header, mrkdwn, escaped user text, primary button.
func TestRendersTheReportGolden(t *testing.T) {
	f, err := os.Open("../../bot/testdata/TestRenderReport_security_group_blocks_port_22.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	if err := run(f, &out); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	for _, want := range []string{`<div class="header">web-1 (ins-abc12345)</div>`, "<b>Likely cause:</b>", `<code>security_group.login_port</code>`,
		`<a href="#">Tencent docs</a>`, `<span class="button primary">Open port 22</span>`, `<span class="e fail">✖</span>`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("page has a script")
	}
}

func TestMrkdwnKeepsEscapes(t *testing.T) {
	if got, want := mrkdwn("a &lt;b&gt; &amp; <@U012AB3CD>"), `a &lt;b&gt; &amp; <span class="mention">@U012AB3CD</span>`; got != want {
		t.Errorf("mrkdwn = %q, want %q", got, want)
	}
}
