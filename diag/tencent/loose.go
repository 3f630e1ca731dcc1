package tencent

import (
	"encoding/json"
	"fmt"
)

// looseString is a string field that some senders encode as a JSON number,
// e.g. a security group's "Version": 60. It accepts a string, a number (kept
// as written) or null (left empty).
type looseString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *looseString) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		*s = looseString(str)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("decoding %s: want a string or a number", b)
	}
	*s = looseString(n)
	return nil
}
