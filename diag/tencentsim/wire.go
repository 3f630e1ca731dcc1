package tencentsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// ignored is a request parameter that the real API accepts and the
// simulator does not act on.
type ignored = json.RawMessage

// decodeParams decodes a request body into params. Like Tencent Cloud, it
// rejects parameters the action does not have, spelled in any other case
// (UnknownParameter), and values of the wrong type (InvalidParameter).
func decodeParams(req *request, params any) error {
	if err := checkKeys(req.body, reflect.TypeOf(params), ""); err != nil {
		return apiErrorf(codeUnknownParameter, "%s: %v", req.action, err)
	}
	err := json.Unmarshal(req.body, params)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr):
		return apiErrorf(codeInvalidParameter, "the parameter %s must be of type %s, not %s", typeErr.Field, typeErr.Type, typeErr.Value)
	}
	return apiErrorf(codeInvalidParameter, "the request body is not a JSON object: %v", err)
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// checkKeys reports the first object key in data that is not, exactly, the
// JSON name of a field of t (encoding/json alone would accept any case).
// Values that do not fit t are left for json.Unmarshal to report.
func checkKeys(data []byte, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == rawMessageType:
		return nil
	case t.Kind() == reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return nil
		}
		for i, item := range items {
			if err := checkKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Struct:
		var object map[string]json.RawMessage
		if json.Unmarshal(data, &object) != nil {
			return nil
		}
		for key, value := range object {
			name := key
			if path != "" {
				name = path + "." + key
			}
			field, ok := fieldByJSONName(t, key)
			if !ok {
				return fmt.Errorf("the parameter %s is not recognized", name)
			}
			if err := checkKeys(value, field.Type, name); err != nil {
				return err
			}
		}
	}
	return nil
}

func fieldByJSONName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name || (tag == "" && f.Name == name) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// filter is the API's {"Name": ..., "Values": [...]}.
type filter struct {
	Name   string   `json:"Name"`
	Values []string `json:"Values"`
}

// filters is a request's Filters: all must hold, any value of one matches.
type filters []filter

// check rejects filter names not in allowed with the service's code.
func (fs filters) check(code string, allowed ...string) error {
	for _, f := range fs {
		if !slices.Contains(allowed, f.Name) {
			return apiErrorf(code, "the filter %q is not supported; use one of %s", f.Name, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// match reports whether every filter has a value that value(name) matches.
// value returns the candidate's values for a filter name.
func (fs filters) match(values func(name string) []string) bool {
	for _, f := range fs {
		have := values(f.Name)
		if !slices.ContainsFunc(f.Values, func(v string) bool { return slices.Contains(have, v) }) {
			return false
		}
	}
	return true
}

// page applies Offset and Limit (0 means the default, above max is an
// error) to n items and returns the slice bounds.
func page(n, offset, limit, defaultLimit, maxLimit int) (lo, hi int, err error) {
	if limit == 0 {
		limit = defaultLimit
	}
	if offset < 0 || limit < 0 || limit > maxLimit {
		return 0, 0, apiErrorf(codeInvalidValue, "Offset must be at least 0 and Limit between 1 and %d", maxLimit)
	}
	lo = min(offset, n)
	return lo, min(lo+limit, n), nil
}

// flexString is a parameter that may come as a JSON string or number, as
// security-group Version does.
type flexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n)
	return nil
}

// The time formats of the APIs.
const (
	isoUTC    = "2006-01-02T15:04:05Z" // cvm, tat
	localTime = time.DateTime          // vpc ModifyTime, CreatedTime
)

func formatISO(t time.Time) string { return t.UTC().Format(isoUTC) }

// cst is China Standard Time, the zone the consoles and vpc speak.
var cst = time.FixedZone("CST", 8*3600)

func formatLocal(t time.Time) string { return t.In(cst).Format(localTime) }

func ptr[T any](v T) *T { return &v }
