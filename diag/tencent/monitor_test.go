package tencent

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
)

func TestMetricData(t *testing.T) {
	f := newFakeCloud(t)
	f.on("GetMonitorData", success(`"Period": 60, "MetricName": "CPUUsage",
	  "StartTime": "2026-05-01T10:00:00+08:00", "EndTime": "2026-05-01T10:02:00+08:00",
	  "DataPoints": [{"Dimensions": [{"Name": "InstanceId", "Value": "ins-abc12345"}],
	                  "Timestamps": [1777600800, 1777600860.5], "Values": [12.5, 97]}],
	  "Msg": ""`))
	c := newTestClient(t, f, nil, nil)
	cst := time.FixedZone("CST", 8*60*60)
	q := diag.MetricQuery{
		Metric: "CPUUsage", InstanceID: "ins-abc12345", Period: time.Minute,
		Start: time.Date(2026, 5, 1, 10, 0, 0, 0, cst), End: time.Date(2026, 5, 1, 10, 2, 0, 0, cst),
	}

	got, err := c.MetricData(context.Background(), testRegion, q)
	if err != nil {
		t.Fatalf("MetricData: %v", err)
	}
	want := diag.MetricSeries{
		Metric: "CPUUsage", Period: time.Minute,
		Timestamps: []time.Time{time.Unix(1777600800, 0), time.Unix(1777600860, 5e8)},
		Values:     []float64{12.5, 97},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MetricData =\n%+v\nwant\n%+v", got, want)
	}
	wantBody := `{"EndTime":"2026-05-01T10:02:00+08:00",` +
		`"Instances":[{"Dimensions":[{"Name":"InstanceId","Value":"ins-abc12345"}]}],` +
		`"MetricName":"CPUUsage","Namespace":"QCE/CVM","Period":60,"StartTime":"2026-05-01T10:00:00+08:00"}`
	if body := jsonOf(t, f.only().body); body != wantBody {
		t.Errorf("request body\n%s\nwant\n%s", body, wantBody)
	}
}

func TestMetricDataWithoutPoints(t *testing.T) {
	for name, points := range map[string]string{
		"empty arrays":     `"DataPoints": [{"Dimensions": [{"Name": "InstanceId", "Value": "ins-abc12345"}], "Timestamps": [], "Values": []}]`,
		"no data points":   `"DataPoints": []`,
		"null data points": `"DataPoints": null`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeCloud(t)
			f.on("GetMonitorData", success(`"Period": 60, "MetricName": "MemUsage", `+points))
			c := newTestClient(t, f, nil, nil)
			q := diag.MetricQuery{Metric: "MemUsage", InstanceID: "ins-abc12345", Period: time.Minute,
				Start: time.Now().Add(-10 * time.Minute), End: time.Now()}

			got, err := c.MetricData(context.Background(), testRegion, q)
			if err != nil || len(got.Timestamps) != 0 || len(got.Values) != 0 {
				t.Errorf("MetricData = %+v, %v; want an empty series, nil", got, err)
			}
		})
	}
}
