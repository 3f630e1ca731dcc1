package bot

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// groupCache caches Slack user-group members for approvals. Slack's
// usergroups.users.list is rate limited (Tier 2) and needs the
// usergroups:read scope and a paid plan; when it fails, approvals fall back
// to the explicit approvers list and a warning is logged once per group.
type groupCache struct {
	api     SlackAPI
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger
	mu      sync.Mutex
	entries map[string]groupEntry
	warned  map[string]bool
}

type groupEntry struct {
	members []string
	at      time.Time
}

func newGroupCache(api SlackAPI, ttl time.Duration, now func() time.Time, log *slog.Logger) *groupCache {
	return &groupCache{api: api, ttl: ttl, now: now, log: log, entries: map[string]groupEntry{}, warned: map[string]bool{}}
}

// member reports whether user belongs to group, as far as Slack will say.
func (g *groupCache) member(ctx context.Context, group, user string) bool {
	g.mu.Lock()
	e, ok := g.entries[group]
	g.mu.Unlock()
	if !ok || g.now().Sub(e.at) > g.ttl {
		members, err := g.api.GetUserGroupMembersContext(ctx, group)
		if err != nil {
			g.warnOnce(group, err)
			return false
		}
		e = groupEntry{members: members, at: g.now()}
		g.mu.Lock()
		g.entries[group] = e
		g.mu.Unlock()
	}
	return slices.Contains(e.members, user)
}

func (g *groupCache) warnOnce(group string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.warned[group] {
		return
	}
	g.warned[group] = true
	g.log.Warn("cannot read approver group members; only approvals.approvers can approve", "group", group, "err", err)
}

// isApprover reports whether user may approve fixes: listed in
// approvals.approvers, or a member of an approvals.approver_groups group.
func (b *Bot) isApprover(ctx context.Context, user string) bool {
	if slices.Contains(b.opts.Approvers, user) {
		return true
	}
	for _, group := range b.opts.ApproverGroups {
		if b.groups.member(ctx, group, user) {
			return true
		}
	}
	return false
}
