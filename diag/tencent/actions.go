package tencent

// Action is a Tencent Cloud API action the adapter can call. Its String form,
// "service:Name", is how CAM policies name it.
type Action struct {
	Service string // the service, e.g. "cvm"
	Name    string // the action, e.g. "DescribeInstances"
	// Changes reports whether the action changes cloud resources, that is
	// whether it is a fix action. A deployment that only diagnoses needs no
	// permission for such actions.
	Changes bool
}

// String returns the action as a CAM policy names it, like
// "cvm:DescribeInstances".
func (a Action) String() string { return a.Service + ":" + a.Name }

// readOnlyMutating names the actions that are mutating as far as retries are
// concerned but change no cloud resource. RunCommand runs only cvmlogin's
// embedded scripts: the read-only in-guest checks and, once approved, the
// guest repairs, which change the guest but no cloud resource. The diagnosis
// policy grants it, since the checks need it.
var readOnlyMutating = map[string]bool{runCommand.name: true}

// Actions returns every action the adapter can call, in a fixed order. A
// mutating action changes cloud resources unless it is known to be read-only,
// so a new mutating action counts as a fix action until it is declared
// otherwise. The slice is the caller's to keep.
func Actions() []Action {
	out := make([]Action, 0, len(actions))
	for _, a := range actions {
		out = append(out, exported(a))
	}
	return out
}

// exported describes a for callers outside the package.
func exported(a action) Action {
	return Action{Service: a.service, Name: a.name, Changes: a.mutating && !readOnlyMutating[a.name]}
}
