package bot

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cvmlogin/cvmlogin/diag"
)

// sparkBars are the eight heights of a sparkline, lowest first.
var sparkBars = []rune("▁▂▃▄▅▆▇█")

// maxSparkPoints bounds a sparkline's width; longer series are bucketed,
// keeping each bucket's maximum so that peaks stay visible.
const maxSparkPoints = 24

// evidenceValuesKey is the Evidence key of a metric finding's series, oldest
// first: []float64, or []any of numbers once the report went through JSON.
const evidenceValuesKey = "values"

// metricChart says how to draw one metric finding's series.
type metricChart struct {
	check   diag.CheckID
	label   string
	percent bool // values are percentages, drawn on a 0–100 scale
}

// metricCharts lists the findings whose series the report message draws, in
// display order.
var metricCharts = []metricChart{
	{check: diag.CheckLoadCPU, label: "CPU", percent: true},
	{check: diag.CheckLoadMemory, label: "Memory", percent: true},
	{check: diag.CheckBandwidthUsage, label: "Bandwidth out"},
}

// metricLines returns one "CPU ▁▁▂▇██ max 98%" line per metric finding of r
// that carries a series.
func metricLines(r *diag.Report) []string {
	var lines []string
	for _, c := range metricCharts {
		f, ok := r.Finding(c.check)
		if !ok {
			continue
		}
		values := evidenceValues(f.Evidence)
		if len(values) == 0 {
			continue
		}
		lines = append(lines, c.line(values, bandwidthCap(r)))
	}
	return lines
}

func (c metricChart) line(values []float64, capMbps float64) string {
	peak := slices.Max(values)
	if c.percent {
		return fmt.Sprintf("%s %s max %s%%", c.label, sparkline(values, 100), formatNumber(peak))
	}
	if capMbps > 0 {
		return fmt.Sprintf("%s %s max %s of %s Mbps", c.label, sparkline(values, math.Max(capMbps, peak)), formatNumber(peak), formatNumber(capMbps))
	}
	return fmt.Sprintf("%s %s max %s Mbps", c.label, sparkline(values, peak), formatNumber(peak))
}

func bandwidthCap(r *diag.Report) float64 {
	if r.Instance == nil {
		return 0
	}
	return float64(r.Instance.BandwidthOutMbps)
}

// sparkline draws values on a 0..top scale, one bar per point after
// bucketing. Values at or below 0 draw the lowest bar; at or above top, the
// highest.
func sparkline(values []float64, top float64) string {
	var b strings.Builder
	for _, v := range bucketMax(values, maxSparkPoints) {
		ratio := 0.0
		if top > 0 {
			ratio = min(max(v/top, 0), 1)
		}
		b.WriteRune(sparkBars[int(math.Round(ratio*float64(len(sparkBars)-1)))])
	}
	return b.String()
}

// bucketMax shrinks values to at most n points, each the maximum of a run of
// consecutive values.
func bucketMax(values []float64, n int) []float64 {
	if len(values) <= n {
		return values
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = slices.Max(values[i*len(values)/n : (i+1)*len(values)/n])
	}
	return out
}

// formatNumber prints v with at most one decimal, and none when it is whole.
func formatNumber(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// evidenceValues returns the finite numbers of evidence["values"], or nil if
// there are none.
func evidenceValues(evidence map[string]any) []float64 {
	var values []float64
	switch raw := evidence[evidenceValuesKey].(type) {
	case []float64:
		values = raw
	case []any:
		for _, item := range raw {
			if v, ok := toFloat(item); ok {
				values = append(values, v)
			}
		}
	}
	return slices.DeleteFunc(slices.Clone(values), func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) })
}

func toFloat(item any) (float64, bool) {
	switch v := item.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}
