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
	a := s.account
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
	}{
		Balance: int64(math.Round(a.realBalance)), Uin: simulatedUin, RealBalance: a.realBalance,
		CashAccountBalance: a.realBalance, OweAmount: a.oweAmount,
	}, nil
}
