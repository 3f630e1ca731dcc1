package tencent

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/cvmlogin/cvmlogin/diag"
)

// count returns how many requests for action the fake received.
func (f *fakeCloud) count(action string) int {
	n := 0
	for _, r := range f.requests() {
		if r.action == action {
			n++
		}
	}
	return n
}

func TestSharedRepliesAreReusedBriefly(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DescribeAccountBalance", success(`"RealBalance":100`))
	f.on("DescribeSecurityGroupPolicies", success(fmt.Sprintf(sgPoliciesFixture, `"7"`)))
	c := newTestClient(t, f, nil, nil)

	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := c.AccountBalance(context.Background()); err != nil {
				t.Error(err)
			}
			if _, err := c.SecurityGroupPolicies(context.Background(), testRegion, "sg-12345678"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := c.SecurityGroupPolicies(context.Background(), testRegion, "sg-87654321"); err != nil {
		t.Fatal(err)
	}
	if n := f.count("DescribeAccountBalance"); n != 1 {
		t.Errorf("10 balance reads sent %d requests, want 1", n)
	}
	if n := f.count("DescribeSecurityGroupPolicies"); n != 2 {
		t.Errorf("10 reads of one group and 1 of another sent %d requests, want 2", n)
	}
}

func TestChangingAGroupDropsItsCachedRules(t *testing.T) {
	for _, tt := range []struct {
		name  string
		reply reply
	}{
		{"after a change", success("")},
		{"after a version conflict", failure("UnsupportedOperation.VersionMismatch", "the group changed")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			f.on("DescribeSecurityGroupPolicies", success(fmt.Sprintf(sgPoliciesFixture, `"7"`)))
			f.on("CreateSecurityGroupPolicies", tt.reply)
			c := newTestClient(t, f, nil, nil)
			ctx := context.Background()
			if _, err := c.SecurityGroupPolicies(ctx, testRegion, "sg-12345678"); err != nil {
				t.Fatal(err)
			}
			rule := diag.SecurityGroupPolicy{Protocol: "TCP", Port: "22", CidrBlock: "0.0.0.0/0", Action: "ACCEPT"}
			_, _ = c.CreateIngressPolicies(ctx, testRegion, "sg-12345678", "7", []diag.SecurityGroupPolicy{rule})
			if _, err := c.SecurityGroupPolicies(ctx, testRegion, "sg-12345678"); err != nil {
				t.Fatal(err)
			}
			if n := f.count("DescribeSecurityGroupPolicies"); n != 2 {
				t.Errorf("sent %d DescribeSecurityGroupPolicies, want 2: the rules are read again", n)
			}
		})
	}
}

func TestFailuresAreNotCached(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DescribeAccountBalance", failure("UnauthorizedOperation", "no"), success(`"RealBalance":100`))
	c := newTestClient(t, f, nil, nil)
	if _, err := c.AccountBalance(context.Background()); diag.KindOf(err) != diag.KindPermission {
		t.Fatalf("first read: %v, want KindPermission", err)
	}
	if _, err := c.AccountBalance(context.Background()); err != nil {
		t.Errorf("second read: %v, want the provider asked again", err)
	}
}

func TestAWaiterWhoseContextEndsGetsAnAPIError(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DescribeAccountBalance", reply{block: true})
	c := newTestClient(t, f, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.AccountBalance(ctx)
	if _, ok := err.(*diag.APIError); !ok || diag.KindOf(err) != diag.KindUnavailable {
		t.Errorf("error %#v, want a *diag.APIError of KindUnavailable", err)
	}
}
