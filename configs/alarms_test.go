package configs

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestAlarmTagChannels: tag routes load from the file and from the
// environment (key=value=channel, split at the last "="), and a route that
// is not key=value or a value that is not a channel ID is critical.
func TestAlarmTagChannels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cvmlogin.yaml")
	yaml := "alarms:\n  tag_channels:\n    \"Env=Prod\": C0PRODOPS\n    team: C0WEBOPS\n    \"owner=ops\": \"#ops\"\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(LoadOptions{File: path})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"env=prod": "C0PRODOPS", "team": "C0WEBOPS", "owner=ops": "#ops"}
	if got := cfg.Alarms.TagChannels; !maps.Equal(got, want) {
		t.Errorf("tag_channels %v, want %v", got, want)
	}
	var keys []string
	for _, p := range cfg.Validate() {
		keys = append(keys, p.Key)
	}
	if want := []string{"alarms.tag_channels.owner=ops", "alarms.tag_channels.team"}; !slices.Equal(keys, want) {
		t.Errorf("problems at %q, want %q (a channel name, a route without =; no unknown-key warning)", keys, want)
	}

	cfg, err = Load(LoadOptions{Environ: []string{"CVMLOGIN_ALARMS_TAG_CHANNELS=env=prod=C0PRODOPS, team=web=C0WEBOPS"}})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"env=prod": "C0PRODOPS", "team=web": "C0WEBOPS"}
	if got := cfg.Alarms.TagChannels; !maps.Equal(got, want) {
		t.Errorf("tag_channels from the environment %v, want %v", got, want)
	}
}
