package tencent

// The SDK models every field as a pointer, and any of them may be nil. These
// helpers read them as zero values.

// deref returns *p, or the zero value if p is nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// values returns the non-nil strings of ps, in order, or nil if there are none.
func values(ps []*string) []string {
	var out []string
	for _, p := range ps {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}

// optional returns a pointer to s, or nil (an omitted field) if s is empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
