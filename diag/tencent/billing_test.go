package tencent

import (
	"context"
	"testing"

	"github.com/cvmlogin/cvmlogin/diag"
)

func TestAccountBalance(t *testing.T) {
	tests := []struct {
		name, fields string
		want         diag.AccountBalance
	}{
		{"in arrears", `"Balance": -1250, "Uin": 100000000001, "RealBalance": -1250.5, "CashAccountBalance": 0,
		  "FreezeAmount": 0, "OweAmount": 1250.5, "CreditAmount": 0, "CreditBalance": 0, "RealCreditBalance": 0`,
			diag.AccountBalance{RealBalance: -1250.5, OweAmount: 1250.5}},
		{"owing within credit", `"Balance": -1250, "RealBalance": -1250, "OweAmount": 1250, "IsAllowArrears": true,
		  "IsCreditLimited": true, "CreditAmount": 500000, "CreditBalance": 498750, "RealCreditBalance": 498750`,
			diag.AccountBalance{RealBalance: -1250, OweAmount: 1250, CreditAmount: 500000, RealCreditBalance: 498750, AllowArrears: true}},
		{"fields missing", `"Balance": 100`, diag.AccountBalance{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			f.on("DescribeAccountBalance", success(tt.fields))
			c := newTestClient(t, f, nil, nil)
			ctx, calls := withCallLog()

			got, err := c.AccountBalance(ctx)
			if err != nil || got != tt.want {
				t.Errorf("AccountBalance = %+v, %v; want %+v, nil", got, err, tt.want)
			}
			if req := f.only(); req.region != testRegion || jsonOf(t, req.body) != `{}` {
				t.Errorf("request in region %q with body %s; want %q, {}", req.region, jsonOf(t, req.body), testRegion)
			}
			if log := calls.Calls(); len(log) != 1 || log[0].Region != testRegion {
				t.Errorf("call log %+v, want one call in %s", log, testRegion)
			}
		})
	}
}

func TestAccountBalanceWithoutPermission(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DescribeAccountBalance", failure("UnauthorizedOperation.CamNoAuth", "no permission"))
	c := newTestClient(t, f, nil, nil)
	if _, err := c.AccountBalance(context.Background()); diag.KindOf(err) != diag.KindPermission {
		t.Errorf("AccountBalance: %v, want kind permission", err)
	}
}
