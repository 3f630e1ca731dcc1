package diag_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cvmlogin/cvmlogin/diag"
)

func TestTagAllowList(t *testing.T) {
	tagged := diag.Instance{ID: "ins-tagged01", Tags: map[string]string{"team": "web", "cvmlogin": "allowed"}}
	tests := []struct {
		name string
		list diag.TagAllowList
		in   diag.Instance
		want bool
	}{
		{"no list allows all", nil, diag.Instance{ID: "ins-untagged"}, true},
		{"one tag matches", diag.TagAllowList{"env=prod", "cvmlogin=allowed"}, tagged, true},
		{"same key, other value", diag.TagAllowList{"team=db"}, tagged, false},
		{"untagged instance", diag.TagAllowList{"cvmlogin=allowed"}, diag.Instance{ID: "ins-untagged"}, false},
		{"empty value", diag.TagAllowList{"team="}, diag.Instance{Tags: map[string]string{"team": ""}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.list.Allows(tt.in); got != tt.want {
				t.Errorf("%v.Allows(%v) = %v, want %v", tt.list, tt.in.Tags, got, tt.want)
			}
		})
	}
}

// TestAllowedTagsRefuseDiagnosis: an instance without an allowed tag fails
// instance.found with a detail naming the setting, and no other API is
// called for it (the account's balance, read alongside the lookup, is not
// the instance's).
func TestAllowedTagsRefuseDiagnosis(t *testing.T) {
	d, _ := simDiagnoser(t, diag.Options{AllowedTags: diag.TagAllowList{"cvmlogin=allowed"}, PortProbe: true, GuestChecks: true})
	r, err := d.Diagnose(context.Background(), diag.Request{Target: diag.Target{Raw: "ins-linux001", Kind: diag.TargetInstanceID}})
	if err != nil {
		t.Fatal(err)
	}
	found, _ := r.Finding(diag.CheckInstanceFound)
	if found.Status != diag.StatusFail || !strings.Contains(found.Detail, "tencentcloud.allowed_tags") {
		t.Errorf("instance.found = %s (%s: %s), want fail naming tencentcloud.allowed_tags", found.Status, found.Title, found.Detail)
	}
	for _, f := range r.Findings {
		if f.Check != diag.CheckInstanceFound && f.Status != diag.StatusSkipped {
			t.Errorf("%s = %s, want skipped", f.Check, f.Status)
		}
	}
	for _, c := range r.APICalls {
		if api := c.Service + ":" + c.Action; api != "cvm:DescribeInstances" && api != "billing:DescribeAccountBalance" {
			t.Errorf("called %s:%s for an instance outside the allow-list", c.Service, c.Action)
		}
	}
}

// TestAllowedTagsRefuseFix: a fix planned on an instance outside the
// allow-list is refused before any change.
func TestAllowedTagsRefuseFix(t *testing.T) {
	s := mustStartSim(t, 0)
	before := s.ingress(t, "sg-sgdrop01")
	plan := s.plan(t, "fixrefused01", diag.FixOpenAllPorts, "ins-sgdrop01", "")
	fixer := diag.NewFixer(s.client, s.client, diag.FixerOptions{AllowedTags: diag.TagAllowList{"cvmlogin=allowed"}})
	out, err := fixer.Execute(context.Background(), plan)
	if !errors.Is(err, diag.ErrNotAllowed) || !strings.Contains(out.Summary, "tencentcloud.allowed_tags") {
		t.Errorf("Execute = %+v, %v; want refused, naming tencentcloud.allowed_tags", out, err)
	}
	if got := s.ingress(t, "sg-sgdrop01"); !slices.Equal(got, before) || s.sim.CallCount("vpc", "CreateSecurityGroupPolicies") != 0 {
		t.Errorf("the security group changed: %q", got)
	}
}
