package diag

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// TagAllowList limits cvmlogin to the instances carrying at least one of its
// tags, each "key=value" (config tencentcloud.allowed_tags). An empty list
// allows every instance.
type TagAllowList []string

// Allows reports whether in carries one of the list's tags, or the list is
// empty.
func (l TagAllowList) Allows(in Instance) bool {
	return len(l) == 0 || slices.ContainsFunc(l, func(tag string) bool {
		key, value, _ := strings.Cut(tag, "=")
		v, ok := in.Tags[key]
		return ok && v == value
	})
}

// refusal says why in is outside the list, for an instance.found detail or a
// refused fix.
func (l TagAllowList) refusal(in Instance) string {
	return fmt.Sprintf("%s carries none of the tags cvmlogin may act on (tencentcloud.allowed_tags: %s): cvmlogin neither diagnoses nor fixes it.",
		in.ID, strings.Join(l, ", "))
}

// ErrNotAllowed is the error of a fix refused because its instance is outside
// FixerOptions.AllowedTags.
var ErrNotAllowed = errors.New("the instance is outside tencentcloud.allowed_tags")

// checkAllowed refuses the plan when its instance is outside the allow-list,
// before any change; it reads the instance only when there is a list. An
// instance that is gone is left to the action, which says so.
func (x *execution) checkAllowed(ctx context.Context) error {
	list := x.f.opts.AllowedTags
	if len(list) == 0 {
		return nil
	}
	inst, found, err := x.readInstance(ctx)
	if err != nil {
		return err
	}
	if found && !list.Allows(inst) {
		x.out.Summary = "Refused: " + list.refusal(inst)
		return ErrNotAllowed
	}
	return nil
}
