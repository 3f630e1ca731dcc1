package configs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cvmlogin/cvmlogin/configs"
)

// helmChart is the Helm chart's directory.
const helmChart = "../deploy/helm/cvmlogin"

// helmEnvName matches the name of an environment variable a chart template
// sets on a container.
var helmEnvName = regexp.MustCompile(`(?m)^\s*- name: ((?:CVMLOGIN|TENCENTCLOUD)_[A-Z0-9_]+)\s*$`)

// TestHelmChartEnvKeysExist: every CVMLOGIN_* variable the chart sets names a
// configuration key, and every other variable is one the SDK reads.
func TestHelmChartEnvKeysExist(t *testing.T) {
	known := map[string]bool{"TENCENTCLOUD_SECRET_ID": true, "TENCENTCLOUD_SECRET_KEY": true}
	for key := range mustDefaultSettings(t) {
		known[configs.EnvName(key)] = true
	}
	templates, err := filepath.Glob(filepath.Join(helmChart, "templates", "*.yaml"))
	if err != nil || len(templates) == 0 {
		t.Fatalf("no chart templates in %s: %v", helmChart, err)
	}
	seen := 0
	for _, path := range templates {
		for _, m := range helmEnvName.FindAllStringSubmatch(string(mustRead(t, path)), -1) {
			seen++
			if !known[m[1]] {
				t.Errorf("%s sets %s, which is no configuration key's variable", filepath.Base(path), m[1])
			}
		}
	}
	if seen == 0 {
		t.Error("found no environment variable in the chart's templates")
	}
}

// TestHelmChartConfigKeysExist: the configuration file the chart's values
// hold (values.yaml: config) has only known keys, and valid values.
func TestHelmChartConfigKeysExist(t *testing.T) {
	var values struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(mustRead(t, filepath.Join(helmChart, "values.yaml")), &values); err != nil {
		t.Fatal(err)
	}
	if len(values.Config) == 0 {
		t.Fatal("values.yaml has no config")
	}
	data, err := yaml.Marshal(values.Config)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cvmlogin.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(configs.LoadOptions{File: path})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cfg.Validate() {
		if p.Severity == configs.Critical || strings.Contains(p.String(), "not a known setting") {
			t.Errorf("values.yaml config: %s", p)
		}
	}
}
