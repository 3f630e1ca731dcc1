package bot

import (
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/cvmlogin/cvmlogin/diag"
)

func TestSparkline(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		top    float64
		want   string
	}{
		{"empty", nil, 100, ""},
		{"full scale", []float64{0, 14.3, 28.6, 42.9, 57.1, 71.4, 85.7, 100}, 100, "▁▂▃▄▅▆▇█"},
		{"clamped", []float64{-5, 150}, 100, "▁█"},
		{"zero top", []float64{0, 0}, 0, "▁▁"},
		{"spike", []float64{2, 2, 2, 98, 99}, 100, "▁▁▁██"},
		{"bucketed keeps peaks", append(make([]float64, 47), 100), 100, "▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁█"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sparkline(tc.values, tc.top); got != tc.want {
				t.Errorf("sparkline(%v, %v) = %q, want %q", tc.values, tc.top, got, tc.want)
			}
		})
	}
}

func TestEvidenceValues(t *testing.T) {
	var fromJSON map[string]any
	if err := json.Unmarshal([]byte(`{"values":[1,2.5,3]}`), &fromJSON); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		evidence map[string]any
		want     []float64
	}{
		{"float64 slice", map[string]any{"values": []float64{1, 2}}, []float64{1, 2}},
		{"after JSON", fromJSON, []float64{1, 2.5, 3}},
		{"mixed numbers", map[string]any{"values": []any{1, int64(2), float32(3), json.Number("4.5"), "x", nil}}, []float64{1, 2, 3, 4.5}},
		{"non-finite dropped", map[string]any{"values": []float64{1, math.NaN(), math.Inf(1), 2}}, []float64{1, 2}},
		{"missing", map[string]any{"other": 1}, nil},
		{"wrong type", map[string]any{"values": "1,2,3"}, nil},
		{"nil evidence", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := evidenceValues(tc.evidence); !slices.Equal(got, tc.want) {
				t.Errorf("evidenceValues = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMetricLines(t *testing.T) {
	r := highCPU()
	r.Instance.BandwidthOutMbps = 0
	setEvidence(r, diag.CheckBandwidthUsage, map[string]any{"values": []float64{1, 2, 4}})
	setEvidence(r, diag.CheckLoadMemory, nil)
	want := []string{"CPU ▂▂▂▃▅▇██████ max 99.6%", "Bandwidth out ▃▅█ max 4 Mbps"}
	if got := metricLines(r); !slices.Equal(got, want) {
		t.Errorf("metricLines = %q, want %q", got, want)
	}
	r.Instance.BandwidthOutMbps = 8
	if got, want := metricLines(r)[1], "Bandwidth out ▂▃▅ max 4 of 8 Mbps"; got != want {
		t.Errorf("with a bandwidth cap: %q, want %q", got, want)
	}
}
