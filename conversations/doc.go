// Package conversations keeps cvmlogin's shared state in Redis, so that
// several bot replicas can share the work: diagnosis conversations, their
// reports and logs (read back into exports), de-duplication of Slack
// deliveries, the opaque IDs behind button values, fix requests with
// compare-and-set transitions, the audit stream, the diagnosis job queue and
// per-instance run coalescing.
//
// It works with any redis.UniversalClient: a single node, Redis Cluster or
// Sentinel. Every key starts with Options.Prefix and has a TTL. Keys that a
// script or transaction touches together share a hash tag, so that they land
// in one Cluster slot. The layout, after the prefix:
//
//	conv:{<id>}            hash    a conversation
//	report:{<id>}          string  its latest report, JSON
//	log:{<id>}             list    its log, JSON entries, capped
//	seen:<kind>:<key>      string  a de-duplication marker
//	ref:<ref>              string  the state behind a button value, JSON
//	fix:{<id>}             string  a fix request, JSON
//	run:<instance>         string  the conversation diagnosing an instance
//	audit                  stream  the audit trail
//	jobs                   stream  the job queue
//
// Free-form key parts (channels, instance keys, de-duplication keys) are used
// as they are when made of letters, digits and "._:/-", and hashed otherwise.
package conversations
