package diag

import (
	"slices"
	"time"
)

// Report is the outcome of one diagnosis: design.md B4, the JSON the CLI
// prints and the bot stores.
type Report struct {
	Target      string           `json:"target"`
	Region      string           `json:"region"`
	Instance    *InstanceSummary `json:"instance"`
	Findings    []Finding        `json:"findings"`
	Summary     Summary          `json:"summary"`
	LikelyCause *CheckID         `json:"likely_cause"`
	// Symptom is the error message the user saw, classified; nil without one.
	Symptom    *Symptom  `json:"symptom,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	// APICalls is every cloud API call the diagnosis made, in completion order.
	APICalls []APICall `json:"api_calls"`
}

// InstanceSummary is what the report says about the diagnosed instance.
type InstanceSummary struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	OS               string   `json:"os"` // "linux" or "windows"
	OSName           string   `json:"os_name"`
	State            string   `json:"state"`
	PublicIPs        []string `json:"public_ips"`
	PrivateIPs       []string `json:"private_ips"`
	LoginPort        int      `json:"login_port"`
	SecurityGroups   []string `json:"security_groups"`
	BandwidthOutMbps int64    `json:"bandwidth_out_mbps"`
	// LoginUser is the Linux user a login uses (DefaultLoginUser, else the
	// image's usual one); absent on Windows. Guest repairs act for it.
	LoginUser string `json:"login_user,omitempty"`
}

// Summary counts findings by status.
type Summary struct {
	OK      int `json:"ok"`
	Warn    int `json:"warn"`
	Fail    int `json:"fail"`
	Unknown int `json:"unknown"`
	Skipped int `json:"skipped"`
}

// Finding returns the finding for check id, and whether the report has one.
func (r *Report) Finding(id CheckID) (Finding, bool) {
	for _, f := range r.Findings {
		if f.Check == id {
			return f, true
		}
	}
	return Finding{}, false
}

// Failed reports whether any finding has status fail.
func (r *Report) Failed() bool { return r.Summary.Fail > 0 }

// Finish sorts the findings into catalogue order and fills Summary and
// LikelyCause.
func (r *Report) Finish() {
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		return slices.Index(CheckIDs, a.Check) - slices.Index(CheckIDs, b.Check)
	})
	r.Summary = Summary{}
	r.LikelyCause = nil
	for _, f := range r.Findings {
		switch f.Status {
		case StatusOK:
			r.Summary.OK++
		case StatusWarn:
			r.Summary.Warn++
		case StatusFail:
			r.Summary.Fail++
			if r.LikelyCause == nil {
				id := f.Check
				r.LikelyCause = &id
			}
		case StatusUnknown:
			r.Summary.Unknown++
		case StatusSkipped:
			r.Summary.Skipped++
		}
	}
}
