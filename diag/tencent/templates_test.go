package tencent

import (
	"context"
	"reflect"
	"testing"

	"github.com/cvmlogin/cvmlogin/diag"
)

// TestTemplates: each template lookup filters by the IDs asked for and reads
// plain and remarked entries (the replies are in the documented shapes).
func TestTemplates(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		action, reply string
		lookup        func(c *Client) (any, error)
		want          any
		wantBody      string
	}{
		{"DescribeAddressTemplates", `"TotalCount": 1, "AddressTemplateSet": [{"AddressTemplateName": "office",
		   "AddressTemplateId": "ipm-11111111", "AddressSet": ["203.0.113.0/24", "198.51.100.1-198.51.100.9"],
		   "AddressExtraSet": [{"Address": "203.0.113.0/24", "Description": "office"}, {"Address": "2001:db8::/32"}],
		   "CreatedTime": "2026-01-01 00:00:00"}]`,
			func(c *Client) (any, error) { return c.AddressTemplates(ctx, testRegion, []string{"ipm-11111111"}) },
			[]diag.AddressTemplate{{ID: "ipm-11111111", Addresses: []string{"203.0.113.0/24", "198.51.100.1-198.51.100.9", "2001:db8::/32"}}},
			`{"Filters":[{"Name":"address-template-id","Values":["ipm-11111111"]}],"Limit":"100"}`},
		{"DescribeAddressTemplateGroups", `"TotalCount": 1, "AddressTemplateGroupSet": [{"AddressTemplateGroupName": "test",
		   "AddressTemplateGroupId": "ipmg-22222222", "AddressTemplateIdSet": ["ipm-11111111"],
		   "AddressTemplateSet": [{"AddressTemplateId": "ipm-11111111"}, {"AddressTemplateId": "ipm-33333333"}]}]`,
			func(c *Client) (any, error) {
				return c.AddressTemplateGroups(ctx, testRegion, []string{"ipmg-22222222"})
			},
			[]diag.TemplateGroup{{ID: "ipmg-22222222", Members: []string{"ipm-11111111", "ipm-33333333"}}},
			`{"Filters":[{"Name":"address-template-group-id","Values":["ipmg-22222222"]}],"Limit":"100"}`},
		{"DescribeServiceTemplates", `"TotalCount": 1, "ServiceTemplateSet": [{"ServiceTemplateId": "ppm-11111111",
		   "ServiceTemplateName": "ssh", "ServiceSet": ["tcp: 22"], "ServiceExtraSet": [{"Service": "tcp:2222", "Description": "alt"}]}]`,
			func(c *Client) (any, error) { return c.ServiceTemplates(ctx, testRegion, []string{"ppm-11111111"}) },
			[]diag.ServiceTemplate{{ID: "ppm-11111111", Services: []string{"tcp: 22", "tcp:2222"}}},
			`{"Filters":[{"Name":"service-template-id","Values":["ppm-11111111"]}],"Limit":"100"}`},
		{"DescribeServiceTemplateGroups", `"TotalCount": 1, "ServiceTemplateGroupSet": [{"ServiceTemplateGroupId": "ppmg-22222222",
		   "ServiceTemplateIdSet": ["ppm-11111111"], "ServiceTemplateSet": [{"ServiceTemplateId": "ppm-11111111", "ServiceSet": ["tcp:22"]}]}]`,
			func(c *Client) (any, error) {
				return c.ServiceTemplateGroups(ctx, testRegion, []string{"ppmg-22222222"})
			},
			[]diag.TemplateGroup{{ID: "ppmg-22222222", Members: []string{"ppm-11111111"}}},
			`{"Filters":[{"Name":"service-template-group-id","Values":["ppmg-22222222"]}],"Limit":"100"}`},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			f := newFakeCloud(t)
			f.on(tt.action, success(tt.reply))
			c := newTestClient(t, f, nil, nil)
			got, err := tt.lookup(c)
			if err != nil {
				t.Fatalf("%s: %v", tt.action, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if body := jsonOf(t, f.only().body); body != tt.wantBody {
				t.Errorf("request body %s, want %s", body, tt.wantBody)
			}
		})
	}
}

// TestTemplatesFailAsAPIErrors: a refused lookup is a classified APIError,
// and no IDs means no call.
func TestTemplatesFailAsAPIErrors(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DescribeServiceTemplates", failure("UnauthorizedOperation", "no permission"))
	c := newTestClient(t, f, nil, nil)
	if _, err := c.ServiceTemplates(context.Background(), testRegion, []string{"ppm-1"}); diag.KindOf(err) != diag.KindPermission {
		t.Errorf("ServiceTemplates: %v, want kind permission", err)
	}
	if got, err := c.AddressTemplates(context.Background(), testRegion, nil); got != nil || err != nil {
		t.Errorf("AddressTemplates(nil) = %v, %v", got, err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}
