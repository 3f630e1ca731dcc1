// Package textclip shortens text for logs and error messages without
// breaking UTF-8.
package textclip

import "unicode/utf8"

// Bytes returns s if it has at most n bytes, or else its longest start of at
// most n bytes that ends on a rune boundary, followed by "…".
func Bytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
