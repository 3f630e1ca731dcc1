package tencent

import (
	"context"

	billing "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/billing/v20180709"

	"github.com/cvmlogin/cvmlogin/diag"
)

// AccountBalance returns the account's available balance, arrears and credit,
// in the currency's smallest unit (billing:DescribeAccountBalance). The call
// goes to the default region.
//
// API docs: https://cloud.tencent.com/document/api/555/20253
func (c *Client) AccountBalance(ctx context.Context) (diag.AccountBalance, error) {
	region := c.cfg.Region
	cli, err := serviceClient(c, "billing", region, billing.NewClient)
	if err != nil {
		return diag.AccountBalance{}, err
	}
	resp, err := call(ctx, c, describeAccountBalance, region, cli.DescribeAccountBalanceWithContext,
		billing.NewDescribeAccountBalanceRequest())
	if err != nil {
		return diag.AccountBalance{}, err
	}
	r := resp.Response
	return diag.AccountBalance{
		RealBalance:       deref(r.RealBalance),
		OweAmount:         deref(r.OweAmount),
		CreditAmount:      deref(r.CreditAmount),
		RealCreditBalance: deref(r.RealCreditBalance),
		AllowArrears:      allowArrears(r),
	}, nil
}

// allowArrears reads IsAllowArrears, which the SDK marks deprecated but the
// API still documents and sends; absent, it is false and the credit fields
// decide.
func allowArrears(r *billing.DescribeAccountBalanceResponseParams) bool {
	//lint:ignore SA1019 deprecated in the SDK, still in the API's answer
	return deref(r.IsAllowArrears)
}
