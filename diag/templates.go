package diag

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// templateRefs are the template IDs the rules of some groups refer to, by
// kind: address templates (ipm-), address template groups (ipmg-), service
// templates (ppm-) and service template groups (ppmg-).
type templateRefs struct {
	addrs, addrGroups, services, serviceGroups []string
}

func referencedTemplates(groups []SecurityGroupPolicies) templateRefs {
	var refs templateRefs
	add := func(list *[]string, id string) {
		if !slices.Contains(*list, id) {
			*list = append(*list, id)
		}
	}
	for _, g := range groups {
		for _, p := range g.Ingress {
			switch id := p.AddressTemplate; {
			case strings.HasPrefix(id, "ipmg-"):
				add(&refs.addrGroups, id)
			case id != "":
				add(&refs.addrs, id)
			}
			switch id := p.ServiceTemplate; {
			case strings.HasPrefix(id, "ppmg-"):
				add(&refs.serviceGroups, id)
			case id != "":
				add(&refs.services, id)
			}
		}
	}
	return refs
}

// resolveTemplates looks up every template the groups' ingress rules refer
// to, through their groups, and flattens them. A template that does not exist
// stays unresolved (its rules are unevaluable); a failed lookup is an error.
func resolveTemplates(ctx context.Context, api TemplateAPI, region string, groups []SecurityGroupPolicies) (Templates, error) {
	refs := referencedTemplates(groups)
	addrs, err := resolveKind(ctx, region, refs.addrs, refs.addrGroups, api.AddressTemplateGroups,
		indexed(api.AddressTemplates, func(t AddressTemplate) (string, []string) { return t.ID, t.Addresses }))
	if err != nil {
		return Templates{}, fmt.Errorf("resolving address templates: %w", err)
	}
	services, err := resolveKind(ctx, region, refs.services, refs.serviceGroups, api.ServiceTemplateGroups,
		indexed(api.ServiceTemplates, func(t ServiceTemplate) (string, []string) { return t.ID, t.Services }))
	if err != nil {
		return Templates{}, fmt.Errorf("resolving service templates: %w", err)
	}
	return Templates{Addresses: addrs, Services: services}, nil
}

// resolveKind resolves one kind of template: the groups first, then every
// template named directly or as a group member. A group resolves only when
// all its members do.
func resolveKind(ctx context.Context, region string, ids, groupIDs []string,
	groupsOf func(context.Context, string, []string) ([]TemplateGroup, error),
	entriesOf entriesFunc) (map[string][]string, error) {
	resolved := map[string][]string{}
	var groups []TemplateGroup
	if len(groupIDs) > 0 {
		var err error
		if groups, err = groupsOf(ctx, region, groupIDs); err != nil {
			return nil, err
		}
	}
	wanted := slices.Clone(ids)
	for _, g := range groups {
		for _, m := range g.Members {
			if !slices.Contains(wanted, m) {
				wanted = append(wanted, m)
			}
		}
	}
	if len(wanted) == 0 {
		return resolved, nil
	}
	entries, err := entriesOf(ctx, region, wanted)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if e, ok := entries[id]; ok {
			resolved[id] = e
		}
	}
	for _, g := range groups {
		if flat, ok := flatten(g.Members, entries); ok {
			resolved[g.ID] = flat
		}
	}
	return resolved, nil
}

func flatten(members []string, entries map[string][]string) ([]string, bool) {
	flat := []string{}
	for _, m := range members {
		e, ok := entries[m]
		if !ok {
			return nil, false
		}
		flat = append(flat, e...)
	}
	return flat, true
}

// entriesFunc returns the entries of templates by ID.
type entriesFunc func(ctx context.Context, region string, ids []string) (map[string][]string, error)

// indexed turns a template lookup into an entriesFunc.
func indexed[T any](list func(context.Context, string, []string) ([]T, error), entry func(T) (string, []string)) entriesFunc {
	return func(ctx context.Context, region string, ids []string) (map[string][]string, error) {
		items, err := list(ctx, region, ids)
		if err != nil {
			return nil, err
		}
		out := make(map[string][]string, len(items))
		for _, it := range items {
			id, entries := entry(it)
			out[id] = entries
		}
		return out, nil
	}
}
