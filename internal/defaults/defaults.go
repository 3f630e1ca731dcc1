// Package defaults fills the zero (or negative) settings of options structs
// with their defaults.
package defaults

import "time"

// Duration returns d when it is positive, def otherwise.
func Duration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
