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
// say) is an empty series and a nil error.
//
// API docs: https://cloud.tencent.com/document/product/215/30353
func (c *Client) MetricData(ctx context.Context, region string, q diag.MetricQuery) (diag.MetricSeries, error) {
	cli, err := serviceClient(c, "monitor", region, monitor.NewClient)
	if err != nil {
		return diag.MetricSeries{}, err
	}
	req := monitor.NewGetMonitorDataRequest()
	req.Namespace = common.StringPtr(cvmNamespace)
	req.MetricName = common.StringPtr(q.Metric)
	req.Period = common.Uint64Ptr(uint64(q.Period.Seconds()))
	req.StartTime = common.StringPtr(q.Start.Format(time.RFC3339))
	req.EndTime = common.StringPtr(q.End.Format(time.RFC3339))
	req.Instances = []*monitor.Instance{{Dimensions: []*monitor.Dimension{
		{Name: common.StringPtr("InstanceId"), Value: common.StringPtr(q.InstanceID)},
	}}}
	resp, err := call(ctx, c, getMonitorData, region, cli.GetMonitorDataWithContext, req)
	if err != nil {
		return diag.MetricSeries{}, err
	}
	series := diag.MetricSeries{Metric: q.Metric, Period: q.Period}
	if points := resp.Response.DataPoints; len(points) > 0 && points[0] != nil {
		series.Timestamps, series.Values = pointsFrom(points[0])
	}
	return series, nil
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
