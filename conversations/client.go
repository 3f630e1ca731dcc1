package conversations

import (
	"errors"
	"fmt"
	"net/url"
	"runtime"

	"github.com/redis/go-redis/v9"
)

// ClientOptions says how to reach Redis (configuration keys redis.*).
type ClientOptions struct {
	// URL, when set, names a single server and takes precedence over Addrs:
	// redis://[[user]:password@]host[:port][/db][?option=value] or rediss://
	// for TLS; see redis.ParseURL.
	URL string
	// Addrs is one host:port for a single server, several for a Cluster, or
	// the Sentinels when MasterName is set.
	Addrs []string
	// MasterName is the Sentinel master's name.
	MasterName string
	Password   string // also used for URL when the URL carries none
	DB         int    // single server and Sentinel only; ignored with URL
	// Workers is how many job workers share the client. Each holds a
	// connection while it waits for a job, so the pool gets that many on
	// top of go-redis's default, leaving room for acknowledgements.
	Workers int
}

// poolSize is the connection pool for workers job workers: go-redis's
// default (10 per CPU) plus one per worker.
func poolSize(workers int) int { return 10*runtime.GOMAXPROCS(0) + max(workers, 0) }

// NewClient returns a client for the Redis that o describes: a single node,
// a Cluster or a Sentinel-managed master. Its calls stop at their context's
// deadline. Errors never contain the password.
func NewClient(o ClientOptions) (redis.UniversalClient, error) {
	if o.URL != "" {
		opts, err := redis.ParseURL(o.URL)
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			return nil, errors.New("parsing redis.url: not a valid URL") // url.Error quotes the URL, password and all
		}
		if err != nil {
			return nil, fmt.Errorf("parsing redis.url: %w", err)
		}
		if opts.Password == "" {
			opts.Password = o.Password
		}
		opts.ContextTimeoutEnabled = true
		if opts.PoolSize == 0 {
			opts.PoolSize = poolSize(o.Workers)
		}
		return redis.NewClient(opts), nil
	}
	if len(o.Addrs) == 0 {
		return nil, errors.New("no Redis address: set redis.addr or redis.url")
	}
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:      o.Addrs,
		MasterName: o.MasterName,
		Password:   o.Password,
		DB:         o.DB,
		PoolSize:   poolSize(o.Workers),
		// Honour callers' deadlines: a slash command must be acknowledged
		// within 3 s even when Redis hangs rather than refuses.
		ContextTimeoutEnabled: true,
	}), nil
}
