package diag

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cvmlogin/cvmlogin/internal/defaults"
)

// TagReader reads instances' tags, to route alarms by tag: one
// DescribeInstances by instance ID, which the adapter merges with the
// concurrent lookups of the same region into one request, and whose answer
// it remembers for a while, so that an alarm storm on one instance costs one
// call. It is safe for concurrent use.
type TagReader struct {
	api     InstanceAPI
	regions []string // searched in order when a lookup names no region
	ttl     time.Duration

	mu    sync.Mutex
	cache map[string]taggedInstance // by region + "/" + instance ID
}

type taggedInstance struct {
	tags    map[string]string
	missing error // the instance was found nowhere: remembered, briefly
	expires time.Time
}

// missingTTL bounds how long an instance found nowhere is remembered so: it
// may be one being created.
const missingTTL = time.Minute

// maxTagEntries bounds the cache; past it, expired entries are dropped.
const maxTagEntries = 4096

// NewTagReader returns a TagReader looking instances up through api, in
// region and then regions when a lookup names none, and remembering their
// tags for ttl (default 10m).
func NewTagReader(api InstanceAPI, region string, regions []string, ttl time.Duration) *TagReader {
	search := []string{region}
	for _, r := range regions {
		if !slices.Contains(search, r) {
			search = append(search, r)
		}
	}
	return &TagReader{api: api, regions: search, ttl: defaults.Duration(ttl, 10*time.Minute),
		cache: map[string]taggedInstance{}}
}

// InstanceTags returns the tags of instance id, key to value, in region or,
// when region is "", in the regions the reader searches. An instance found
// nowhere is an error.
func (t *TagReader) InstanceTags(ctx context.Context, region, id string) (map[string]string, error) {
	key := region + "/" + id
	if e, ok := t.cached(key); ok {
		return maps.Clone(e.tags), e.missing
	}
	search := t.regions
	if region != "" {
		search = []string{region}
	}
	for _, r := range search {
		found, err := t.api.FindInstances(ctx, r, InstanceQuery{ID: id})
		if err != nil && KindOf(err) != KindNotFound {
			return nil, fmt.Errorf("reading the tags of %s in %s: %w", id, r, err)
		}
		if len(found) > 0 {
			t.remember(key, taggedInstance{tags: maps.Clone(found[0].Tags)}, t.ttl)
			return maps.Clone(found[0].Tags), nil
		}
	}
	missing := fmt.Errorf("reading the tags of %s: no such instance in %s", id, strings.Join(search, ", "))
	t.remember(key, taggedInstance{missing: missing}, min(t.ttl, missingTTL))
	return nil, missing
}

func (t *TagReader) cached(key string) (taggedInstance, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.cache[key]
	if !ok || time.Now().After(e.expires) {
		return taggedInstance{}, false
	}
	return e, true
}

// remember keeps e under key for ttl.
func (t *TagReader) remember(key string, e taggedInstance, ttl time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if len(t.cache) >= maxTagEntries {
		maps.DeleteFunc(t.cache, func(_ string, e taggedInstance) bool { return now.After(e.expires) })
	}
	e.expires = now.Add(ttl)
	t.cache[key] = e
}
