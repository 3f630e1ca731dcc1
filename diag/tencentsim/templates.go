package tencentsim

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// storedTemplate is a template as the VPC service keeps it.
type storedTemplate struct {
	Template
	region  string
	created time.Time
}

// checkTemplate validates one template's members against its kind; kinds
// maps every template ID of the scenario to its prefix.
func (refs References) checkTemplate(t Template, kinds map[string]string) error {
	kind := kinds[t.ID]
	for _, m := range t.Members {
		var ok bool
		switch kind {
		case "ipm":
			ok = isAddressEntry(m)
		case "ppm":
			ok = isService(m)
		default: // a group: members are templates of the grouped kind
			ok = kinds[m]+"g" == kind
		}
		if !ok {
			return fmt.Errorf("template %s: %q is not a valid member of a %s- template", t.ID, m, kind)
		}
	}
	return nil
}

func isAddressEntry(s string) bool {
	if first, last, ok := strings.Cut(s, "-"); ok {
		lo, errLo := netip.ParseAddr(strings.TrimSpace(first))
		hi, errHi := netip.ParseAddr(strings.TrimSpace(last))
		return errLo == nil && errHi == nil && lo.Is4() == hi.Is4() && lo.Compare(hi) <= 0
	}
	return isCIDR(s, true) || isCIDR(s, false)
}

func isService(s string) bool {
	proto, port, hasPort := strings.Cut(s, ":")
	proto = strings.ToUpper(strings.TrimSpace(proto))
	if _, ok := protocols[proto]; !ok {
		return false
	}
	_, portOK := parsePorts(port)
	return !hasPort || (hasPorts(proto) && portOK) || strings.EqualFold(strings.TrimSpace(port), portAll)
}

// templateKind is one of the four template APIs: what it lists and how.
type templateKind struct {
	prefix  string
	setName string // the response's list field
	filters map[string]func(t Template) []string
	render  func(s *Sim, t storedTemplate) any
}

var (
	addressTemplates = templateKind{prefix: "ipm-", setName: "AddressTemplateSet",
		filters: map[string]func(Template) []string{
			"address-template-name": templateName, "address-template-id": templateID,
			"address-ip": func(t Template) []string { return t.Members },
		},
		render: func(_ *Sim, t storedTemplate) any { return templateEntry(t, addressFields) }}
	addressTemplateGroups = templateKind{prefix: "ipmg-", setName: "AddressTemplateGroupSet",
		filters: map[string]func(Template) []string{"address-template-group-name": templateName, "address-template-group-id": templateID},
		render: func(s *Sim, t storedTemplate) any {
			return s.groupEntry(t, addressGroupFields, addressGroupMember)
		}}
	serviceTemplates = templateKind{prefix: "ppm-", setName: "ServiceTemplateSet",
		filters: map[string]func(Template) []string{
			"service-template-name": templateName, "service-template-id": templateID, "service-port": servicePorts,
		},
		render: func(_ *Sim, t storedTemplate) any { return templateEntry(t, serviceFields) }}
	serviceTemplateGroups = templateKind{prefix: "ppmg-", setName: "ServiceTemplateGroupSet",
		filters: map[string]func(Template) []string{"service-template-group-name": templateName, "service-template-group-id": templateID},
		render: func(s *Sim, t storedTemplate) any {
			return s.groupEntry(t, serviceGroupFields, func(m storedTemplate) any { return templateEntry(m, serviceFields) })
		}}
)

func templateName(t Template) []string { return []string{t.Name} }
func templateID(t Template) []string   { return []string{t.ID} }

// servicePorts are the ports a service template lists, for the service-port
// filter: "tcp:22" gives "22".
func servicePorts(t Template) []string {
	var out []string
	for _, m := range t.Members {
		if _, port, ok := strings.Cut(m, ":"); ok {
			out = append(out, strings.TrimSpace(port))
		}
	}
	return out
}

func (s *Sim) describeAddressTemplates(req *request) (any, error) {
	return s.describeTemplates(req, addressTemplates)
}

func (s *Sim) describeAddressTemplateGroups(req *request) (any, error) {
	return s.describeTemplates(req, addressTemplateGroups)
}

func (s *Sim) describeServiceTemplates(req *request) (any, error) {
	return s.describeTemplates(req, serviceTemplates)
}

func (s *Sim) describeServiceTemplateGroups(req *request) (any, error) {
	return s.describeTemplates(req, serviceTemplateGroups)
}

// describeTemplates answers one of the four template APIs. Offset and Limit
// are strings in these APIs; the simulator also takes numbers.
func (s *Sim) describeTemplates(req *request, kind templateKind) (any, error) {
	var p struct {
		Filters              filters    `json:"Filters"`
		Offset               flexString `json:"Offset"`
		Limit                flexString `json:"Limit"`
		NeedMemberInfo       ignored    `json:"NeedMemberInfo"`
		OrderField           ignored    `json:"OrderField"`
		OrderDirection       ignored    `json:"OrderDirection"`
		MemberOrderField     ignored    `json:"MemberOrderField"`
		MemberOrderDirection ignored    `json:"MemberOrderDirection"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if err := p.Filters.check(codeBadFilter, mapKeys(kind.filters)...); err != nil {
		return nil, err
	}
	offset, errOffset := atoiOrZero(string(p.Offset))
	limit, errLimit := atoiOrZero(string(p.Limit))
	if errOffset != nil || errLimit != nil {
		return nil, apiErrorf(codeInvalidValue, "Offset and Limit must be integers")
	}
	var found []any
	for _, t := range s.templates {
		values := func(name string) []string { return kind.filters[name](t.Template) }
		if t.region == req.region && strings.HasPrefix(t.ID, kind.prefix) && p.Filters.match(values) {
			found = append(found, kind.render(s, t))
		}
	}
	lo, hi, err := page(len(found), offset, limit, 20, 100)
	if err != nil {
		return nil, err
	}
	return map[string]any{"TotalCount": len(found), kind.setName: append([]any{}, found[lo:hi]...)}, nil
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func atoiOrZero(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.Atoi(s)
}

type tagJSON struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// templateTimes are a template's CreatedTime and UpdatedTime.
func templateTimes(t storedTemplate) (string, string) {
	at := formatLocal(t.created)
	return at, at
}

// entryFields are the JSON names of an address (ipm-) or service (ppm-)
// template, which share one shape.
type entryFields struct{ id, name, set, extraSet, member string }

var (
	addressFields = entryFields{"AddressTemplateId", "AddressTemplateName", "AddressSet", "AddressExtraSet", "Address"}
	serviceFields = entryFields{"ServiceTemplateId", "ServiceTemplateName", "ServiceSet", "ServiceExtraSet", "Service"}
)

// templateEntry is an AddressTemplate or ServiceTemplate as the API returns
// it, with each member also in the extra set (with its description).
func templateEntry(t storedTemplate, f entryFields) map[string]any {
	created, updated := templateTimes(t)
	extra := make([]map[string]string, len(t.Members))
	for i, m := range t.Members {
		extra[i] = map[string]string{f.member: m, "Description": "", "UpdatedTime": updated}
	}
	return map[string]any{f.id: t.ID, f.name: t.Name, f.set: nonNilStrings(t.Members), "CreatedTime": created,
		"UpdatedTime": updated, f.extraSet: extra, "TagSet": []tagJSON{}}
}

// groupFields are the JSON names of an address (ipmg-) or service (ppmg-)
// template group, which share one shape.
type groupFields struct{ id, name, idSet, set string }

var (
	addressGroupFields = groupFields{"AddressTemplateGroupId", "AddressTemplateGroupName", "AddressTemplateIdSet", "AddressTemplateSet"}
	serviceGroupFields = groupFields{"ServiceTemplateGroupId", "ServiceTemplateGroupName", "ServiceTemplateIdSet", "ServiceTemplateSet"}
)

// groupEntry is an AddressTemplateGroup or ServiceTemplateGroup as the API
// returns it, with its members rendered by member.
func (s *Sim) groupEntry(t storedTemplate, f groupFields, member func(storedTemplate) any) map[string]any {
	created, updated := templateTimes(t)
	members := []any{}
	for _, m := range s.templateMembers(t) {
		members = append(members, member(m))
	}
	return map[string]any{f.id: t.ID, f.name: t.Name, f.idSet: nonNilStrings(t.Members), "CreatedTime": created,
		"UpdatedTime": updated, f.set: members, "TagSet": []tagJSON{}}
}

// addressGroupMember is an AddressTemplateItem: a member of an address
// template group, without its addresses.
func addressGroupMember(m storedTemplate) any {
	_, updated := templateTimes(m)
	return map[string]string{"AddressTemplateId": m.ID, "AddressTemplateName": m.Name, "Description": "", "UpdatedTime": updated}
}

// templateMembers returns a template group's member templates.
func (s *Sim) templateMembers(group storedTemplate) []storedTemplate {
	var out []storedTemplate
	for _, id := range group.Members {
		if i := slices.IndexFunc(s.templates, func(t storedTemplate) bool { return t.ID == id }); i >= 0 {
			out = append(out, s.templates[i])
		}
	}
	return out
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}
