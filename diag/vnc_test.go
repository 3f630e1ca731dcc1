package diag

import "testing"

func TestVNCConsoleURL(t *testing.T) {
	got, err := VNCConsoleURL("wss://bjvnc.qcloud.com:26789/vnc?s=aHpj")
	want := "https://img.qcloud.com/qcloud/app/active_vnc/index.html?InstanceVncUrl=wss%3A%2F%2Fbjvnc.qcloud.com%3A26789%2Fvnc%3Fs%3DaHpj"
	if err != nil || got != want {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"", "https://evil.example/x", "javascript:alert(1)", "wss://", "wss://h/<x|y>"} {
		if _, err := VNCConsoleURL(bad); err == nil {
			t.Errorf("VNCConsoleURL(%q) accepted", bad)
		}
	}
}
