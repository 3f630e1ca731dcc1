// Package metricstest reads Prometheus scrapes in tests: MustScrape fetches
// and parses a /metrics endpoint, and Families answers what it holds.
package metricstest

import (
	"io"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families is a scrape's metric families by name.
type Families map[string]*dto.MetricFamily

// MustScrape fetches url, a /metrics endpoint on a loopback address, and
// parses its text exposition. It fails tb if either fails.
func MustScrape(tb testing.TB, url string) Families {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatalf("metricstest: scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("metricstest: scraping %s: %s", url, resp.Status)
	}
	return MustParse(tb, resp.Body)
}

// MustParse parses a Prometheus text exposition, failing tb if it is
// malformed.
func MustParse(tb testing.TB, r io.Reader) Families {
	tb.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		tb.Fatalf("metricstest: parsing the scrape: %v", err)
	}
	return families
}

// Series returns the label sets of the series of family name, nil if the
// scrape has none.
func (f Families) Series(name string) []map[string]string {
	mf := f[name]
	if mf == nil {
		return nil
	}
	out := make([]map[string]string, 0, len(mf.GetMetric()))
	for _, m := range mf.GetMetric() {
		out = append(out, labelsOf(m))
	}
	return out
}

// Value returns the sum over the series of family name whose labels include
// labels, given as name, value pairs: the value of a counter or gauge, the
// sample count of a histogram or summary. ok is false if no series matches.
func (f Families) Value(name string, labels ...string) (v float64, ok bool) {
	mf := f[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if !matches(labelsOf(m), labels) {
			continue
		}
		ok = true
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		case m.Summary != nil:
			v += float64(m.GetSummary().GetSampleCount())
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v, ok
}

func labelsOf(m *dto.Metric) map[string]string {
	labels := make(map[string]string, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	return labels
}

// matches reports whether labels hold every name, value pair of want.
func matches(labels map[string]string, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		if labels[want[i]] != want[i+1] {
			return false
		}
	}
	return true
}
