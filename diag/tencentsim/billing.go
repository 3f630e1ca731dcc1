package tencentsim

import "math"

// simulatedUin is the account's UIN.
const simulatedUin = 100000000001

func (s *Sim) describeAccountBalance(req *request) (any, error) {
	var p struct {
		TempCredit ignored `json:"TempCredit"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	a := s.accountLocked()
	creditBalance := a.creditAmount - a.oweAmount // the credit not yet used
	// Amounts are in cents (分). Balance is RealBalance, kept as an integer
	// for compatibility.
	return struct {
		Balance                  int64   `json:"Balance"`
		Uin                      int64   `json:"Uin"`
		RealBalance              float64 `json:"RealBalance"`
		CashAccountBalance       float64 `json:"CashAccountBalance"`
		IncomeIntoAccountBalance float64 `json:"IncomeIntoAccountBalance"`
		PresentAccountBalance    float64 `json:"PresentAccountBalance"`
		FreezeAmount             float64 `json:"FreezeAmount"`
		OweAmount                float64 `json:"OweAmount"`
		IsAllowArrears           bool    `json:"IsAllowArrears"`
		IsCreditLimited          bool    `json:"IsCreditLimited"`
		CreditAmount             float64 `json:"CreditAmount"`
		CreditBalance            float64 `json:"CreditBalance"`
		RealCreditBalance        float64 `json:"RealCreditBalance"`
		TempCredit               float64 `json:"TempCredit"`
		TempAmountInfoList       []any   `json:"TempAmountInfoList"`
	}{
		Balance: int64(math.Round(a.realBalance)), Uin: simulatedUin, RealBalance: a.realBalance,
		CashAccountBalance: a.realBalance, OweAmount: a.oweAmount,
		IsAllowArrears: a.creditAmount > 0, IsCreditLimited: a.creditAmount > 0,
		CreditAmount: a.creditAmount, CreditBalance: creditBalance, RealCreditBalance: creditBalance,
		TempAmountInfoList: []any{},
	}, nil
}

// accountLocked is the account as the instance being looked at sees it: its
// scenario's Account if it has one, else the Sim's.
func (s *Sim) accountLocked() account {
	if s.focus == nil || s.focus.sc.Account == nil {
		return s.account
	}
	a := s.focus.sc.Account
	return account{realBalance: a.RealBalance, oweAmount: max(0, -a.RealBalance), creditAmount: a.CreditAmount}
}
