package diag

import "testing"

func TestParsePortSpec(t *testing.T) {
	tests := []struct {
		spec    string
		in, out []int
		wantErr bool
	}{
		{spec: "ALL", in: []int{1, 22, 65535}},
		{spec: "all", in: []int{3389}},
		{spec: "", in: []int{22}},
		{spec: "22", in: []int{22}, out: []int{21, 23}},
		{spec: "8000-8010", in: []int{8000, 8005, 8010}, out: []int{7999, 8011}},
		{spec: "22,80,443", in: []int{22, 80, 443}, out: []int{23, 81}},
		{spec: "22, 3380-3390", in: []int{22, 3389}, out: []int{3391}},
		{spec: "0", wantErr: true},
		{spec: "65536", wantErr: true},
		{spec: "10-5", wantErr: true},
		{spec: "22,", wantErr: true},
		{spec: "a-b", wantErr: true},
		{spec: "-22", wantErr: true},
	}
	for _, tc := range tests {
		spec, err := ParsePortSpec(tc.spec)
		if (err != nil) != tc.wantErr {
			t.Fatalf("ParsePortSpec(%q) error %v, wantErr %v", tc.spec, err, tc.wantErr)
		}
		for _, p := range tc.in {
			if !spec.Contains(p) {
				t.Errorf("%q should contain %d", tc.spec, p)
			}
		}
		for _, p := range tc.out {
			if spec.Contains(p) {
				t.Errorf("%q should not contain %d", tc.spec, p)
			}
		}
	}
}

func FuzzParsePortSpec(f *testing.F) {
	for _, seed := range []string{"ALL", "22", "20-25", "22,80,443", "1-65535", "", "x", "5-1", "22,,23", " 22 , 80-81 "} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := ParsePortSpec(s)
		if err != nil {
			if spec.Contains(22) {
				t.Fatalf("a failed parse must match nothing")
			}
			return
		}
		for _, p := range []int{0, -1, 65536} {
			if spec.Contains(p) && !spec.All() {
				t.Fatalf("%q contains impossible port %d", s, p)
			}
		}
	})
}
