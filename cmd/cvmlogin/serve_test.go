package main

import (
	"testing"

	"github.com/cvmlogin/cvmlogin/configs"
)

func TestKnownRegion(t *testing.T) {
	cfg := &configs.Config{TencentCloud: configs.TencentCloud{Region: "ap-guangzhou", Regions: []string{"me-newregion"}}}
	known := knownRegion(cfg)
	for region, want := range map[string]bool{"ap-shanghai": true, "na-siliconvalley": true, "me-newregion": true, "ap-mars": false, "": false} {
		if got := known(region); got != want {
			t.Errorf("known(%q) = %v, want %v", region, got, want)
		}
	}
}
