package metrics_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cvmlogin/cvmlogin/internal/metrics"
	"github.com/cvmlogin/cvmlogin/internal/metrics/metricstest"
)

// metricName matches a cvmlogin metric named in a query.
var metricName = regexp.MustCompile(`\bcvmlogin_[a-z_]+\b`)

// TestMonitoringNamesExist: every cvmlogin metric the alert rules and the
// Grafana dashboard query is one the binary exposes, so that no alert waits
// for a series that never comes.
func TestMonitoringNamesExist(t *testing.T) {
	m := metrics.New()
	m.BuildInfo("v0", "r0")
	m.DeclareTencentActions("cvm:DescribeInstances") // as serve declares every action
	families := metricstest.MustScrape(t, mustServe(t, m))
	files, err := filepath.Glob("../../deploy/monitoring/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in deploy/monitoring: %v", err)
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		names := metricName.FindAllString(string(data), -1)
		if len(names) == 0 && !strings.HasSuffix(path, "_test.yaml") {
			t.Errorf("%s queries no cvmlogin metric", path)
		}
		for _, name := range names {
			family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
			if _, ok := families[family]; !ok {
				t.Errorf("%s queries %s, which cvmlogin does not expose", filepath.Base(path), name)
			}
		}
	}
}
