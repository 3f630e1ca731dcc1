package tencentsim

import (
	"math"
	"time"
)

const (
	cvmNamespace = "QCE/CVM"
	// maxMetricInstances and maxMetricPoints bound one GetMonitorData call.
	maxMetricInstances = 50
	maxMetricPoints    = 7200
	// curveAmplitude and curvePeriod shape the gentle wave the metrics draw
	// around their level.
	curveAmplitude = 0.03
	curvePeriod    = 30 * time.Minute
)

// metric is a simulated QCE/CVM metric.
type metric struct {
	name    string
	level   func(sc Scenario) float64
	ceiling func(sc Scenario) float64
	agent   bool // collected by the in-guest monitoring agent
}

func percentCeiling(Scenario) float64 { return maxPercent }

var metrics = []metric{
	{name: "CPUUsage", level: func(sc Scenario) float64 { return sc.CPU }, ceiling: percentCeiling, agent: true},
	{name: "MemUsage", level: func(sc Scenario) float64 { return sc.Memory }, ceiling: percentCeiling, agent: true},
	{name: "BaseCpuUsage", level: func(sc Scenario) float64 { return sc.CPU }, ceiling: percentCeiling},
	{name: "WanOuttraffic", level: func(sc Scenario) float64 { return sc.BandwidthOutUsedMbps },
		ceiling: func(sc Scenario) float64 { return float64(sc.BandwidthOutMbps) }},
}

// lookupMetric finds a metric by its exact name. Metric names are
// case-sensitive, as the API treats them (the QCE/CVM metric list spells
// CPUUsage, MemUsage, BaseCpuUsage, WanOuttraffic); any other spelling is
// answered InvalidParameterValue, as for an unknown metric.
func lookupMetric(name string) (metric, bool) {
	for _, m := range metrics {
		if m.name == name {
			return m, true
		}
	}
	return metric{}, false
}

type dimensionJSON struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

type dataPointJSON struct {
	Dimensions []dimensionJSON `json:"Dimensions"`
	Timestamps []int64         `json:"Timestamps"`
	Values     []float64       `json:"Values"`
	AvgValues  []float64       `json:"AvgValues,omitempty"`
	MaxValues  []float64       `json:"MaxValues,omitempty"`
	MinValues  []float64       `json:"MinValues,omitempty"`
}

// metricQuery is a checked GetMonitorData request.
type metricQuery struct {
	metric     metric
	period     int64
	start, end time.Time
	statistics int // SpecifyStatistics: 1 avg, 2 max, 4 min
}

func (s *Sim) getMonitorData(req *request) (any, error) {
	var p struct {
		Namespace  string `json:"Namespace"`
		MetricName string `json:"MetricName"`
		Instances  []struct {
			Dimensions []dimensionJSON `json:"Dimensions"`
		} `json:"Instances"`
		Period            int64  `json:"Period"`
		StartTime         string `json:"StartTime"`
		EndTime           string `json:"EndTime"`
		SpecifyStatistics int    `json:"SpecifyStatistics"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if len(p.Instances) == 0 || len(p.Instances) > maxMetricInstances {
		return nil, apiErrorf(codeInvalidValue, "Instances takes 1 to %d instances", maxMetricInstances)
	}
	q, err := checkMetricQuery(p.Namespace, p.MetricName, p.Period, p.StartTime, p.EndTime, req.now)
	if err != nil {
		return nil, err
	}
	q.statistics = p.SpecifyStatistics
	points := make([]dataPointJSON, len(p.Instances))
	for i, inst := range p.Instances {
		points[i] = s.dataPoint(req.region, inst.Dimensions, q, req.now)
	}
	return struct {
		Period     int64           `json:"Period"`
		MetricName string          `json:"MetricName"`
		DataPoints []dataPointJSON `json:"DataPoints"`
		StartTime  string          `json:"StartTime"`
		EndTime    string          `json:"EndTime"`
		Msg        string          `json:"Msg"`
	}{q.period, p.MetricName, points, q.start.In(cst).Format(time.RFC3339), q.end.In(cst).Format(time.RFC3339), ""}, nil
}

func checkMetricQuery(namespace, name string, period int64, start, end string, now time.Time) (metricQuery, error) {
	m, ok := lookupMetric(name)
	switch {
	case namespace != cvmNamespace:
		return metricQuery{}, apiErrorf(codeInvalidValue, "Namespace %q is not simulated; use %s", namespace, cvmNamespace)
	case !ok:
		return metricQuery{}, apiErrorf(codeInvalidValue, "MetricName %q is not a simulated %s metric", name, cvmNamespace)
	case period != 60 && period != 300:
		return metricQuery{}, apiErrorf(codeInvalidValue, "Period %d is not supported; use 60 or 300", period)
	case start == "":
		return metricQuery{}, apiErrorf(codeMissingParameter, "StartTime is required")
	}
	q := metricQuery{metric: m, period: period, end: now}
	var err error
	if q.start, err = time.Parse(time.RFC3339, start); err != nil {
		return metricQuery{}, apiErrorf(codeInvalidValue, "StartTime %q is not ISO 8601 like 2018-09-22T19:51:23+08:00", start)
	}
	if end != "" {
		if q.end, err = time.Parse(time.RFC3339, end); err != nil {
			return metricQuery{}, apiErrorf(codeInvalidValue, "EndTime %q is not ISO 8601 like 2018-09-22T20:51:23+08:00", end)
		}
	}
	switch {
	case q.end.Before(q.start):
		return metricQuery{}, apiErrorf(codeInvalidValue, "EndTime is before StartTime")
	case int64(q.end.Sub(q.start)/time.Second)/period > maxMetricPoints:
		return metricQuery{}, apiErrorf(codeInvalidValue, "the window holds more than %d points", maxMetricPoints)
	}
	return q, nil
}

// dataPoint draws one instance's series. Unknown instances, stopped ones and
// agent metrics without an agent have no points, which is not an error.
func (s *Sim) dataPoint(region string, dims []dimensionJSON, q metricQuery, now time.Time) dataPointJSON {
	dp := dataPointJSON{Dimensions: dims, Timestamps: []int64{}, Values: []float64{}}
	if dp.Dimensions == nil {
		dp.Dimensions = []dimensionJSON{}
	}
	var in *instance
	for _, d := range dims {
		if d.Name == "InstanceId" {
			in = s.instanceIn(region, d.Value)
		}
	}
	if in == nil || !in.running() || (q.metric.agent && in.sc.NoAgentMetrics) {
		return dp
	}
	level, ceiling := q.metric.level(in.sc), q.metric.ceiling(in.sc)
	last := min(q.end.Unix(), now.Unix())
	for t := ceilTo(q.start.Unix(), q.period); t <= last; t += q.period {
		dp.Timestamps = append(dp.Timestamps, t)
		dp.Values = append(dp.Values, curve(level, ceiling, t))
	}
	for bit, values := range map[int]*[]float64{1: &dp.AvgValues, 2: &dp.MaxValues, 4: &dp.MinValues} {
		if q.statistics&bit != 0 {
			*values = dp.Values // one sample per period: every statistic is the value
		}
	}
	return dp
}

// curve is a gentle, deterministic wave around level, kept within
// [0, ceiling] and rounded to 3 decimals.
func curve(level, ceiling float64, t int64) float64 {
	v := level * (1 + curveAmplitude*math.Sin(2*math.Pi*float64(t)/curvePeriod.Seconds()))
	return math.Round(math.Min(math.Max(v, 0), ceiling)*1000) / 1000
}

func ceilTo(t, step int64) int64 {
	if r := t % step; r != 0 {
		return t + step - r
	}
	return t
}
