package tencent

import (
	"context"
	"math"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	monitor "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/monitor/v20180724"

	"github.com/cvmlogin/cvmlogin/diag"
)

// cvmNamespace is the Cloud Monitor namespace of CVM metrics.
const cvmNamespace = "QCE/CVM"

// MetricData returns one instance's series of a QCE/CVM metric between
// q.Start and q.End (monitor:GetMonitorData). No points (no monitoring agent,
// say) is an empty series and a nil error. The window is moved back to a
// whole period, so that concurrent queries of the same metric can share
// one request (see batcher).
//
// API docs: https://cloud.tencent.com/document/product/215/30353
func (c *Client) MetricData(ctx context.Context, region string, q diag.MetricQuery) (diag.MetricSeries, error) {
	end := q.End.Truncate(max(q.Period, time.Second))
	key := metricKey{region: region, metric: q.Metric, period: q.Period, start: end.Add(-q.End.Sub(q.Start)), end: end}
	series, err := c.batch.metrics.do(ctx, key, []string{q.InstanceID})
	if err != nil {
		return diag.MetricSeries{}, err
	}
	if s, ok := series[q.InstanceID]; ok {
		return s, nil
	}
	return diag.MetricSeries{Metric: q.Metric, Period: q.Period}, nil
}

// metricKey is what queries must share to go in one GetMonitorData request.
type metricKey struct {
	region, metric string
	period         time.Duration
	start, end     time.Time // without monotonic clock readings
}

// metricSeries reads key's metric for several instances in one request,
// keyed by instance ID.
func (c *Client) metricSeries(ctx context.Context, key metricKey, ids []string) (map[string]diag.MetricSeries, error) {
	cli, err := serviceClient(c, "monitor", key.region, monitor.NewClient)
	if err != nil {
		return nil, err
	}
	req := monitor.NewGetMonitorDataRequest()
	req.Namespace = common.StringPtr(cvmNamespace)
	req.MetricName = common.StringPtr(key.metric)
	req.Period = common.Uint64Ptr(uint64(key.period.Seconds()))
	req.StartTime = common.StringPtr(key.start.Format(time.RFC3339))
	req.EndTime = common.StringPtr(key.end.Format(time.RFC3339))
	for _, id := range ids {
		req.Instances = append(req.Instances, &monitor.Instance{Dimensions: []*monitor.Dimension{
			{Name: common.StringPtr("InstanceId"), Value: common.StringPtr(id)},
		}})
	}
	resp, err := call(ctx, c, getMonitorData, key.region, cli.GetMonitorDataWithContext, req)
	if err != nil {
		return nil, err
	}
	series := make(map[string]diag.MetricSeries, len(ids))
	for i, p := range resp.Response.DataPoints {
		if p == nil {
			continue
		}
		id := instanceDimension(p.Dimensions)
		if id == "" && i < len(ids) {
			id = ids[i] // the points of the i-th instance asked for
		}
		s := diag.MetricSeries{Metric: key.metric, Period: key.period}
		s.Timestamps, s.Values = pointsFrom(p)
		series[id] = s
	}
	return series, nil
}

// instanceDimension returns the InstanceId dimension's value, or "".
func instanceDimension(dims []*monitor.Dimension) string {
	for _, d := range dims {
		if d != nil && deref(d.Name) == "InstanceId" {
			return deref(d.Value)
		}
	}
	return ""
}

// pointsFrom pairs a data point's timestamps (float Unix seconds) with its
// values, skipping pairs with a missing half.
func pointsFrom(p *monitor.DataPoint) ([]time.Time, []float64) {
	var (
		times []time.Time
		vals  []float64
	)
	for i := range min(len(p.Timestamps), len(p.Values)) {
		ts, v := p.Timestamps[i], p.Values[i]
		if ts == nil || v == nil {
			continue
		}
		sec, frac := math.Modf(*ts)
		times = append(times, time.Unix(int64(sec), int64(frac*1e9)))
		vals = append(vals, *v)
	}
	return times, vals
}
