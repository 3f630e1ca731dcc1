// Package diag is cvmlogin's domain: what "I can't log in to my CVM instance"
// means, as data.
//
// It holds the target parser, the check catalogue (stable check IDs, rules and
// dependencies), findings and the report, the concurrent pipeline that runs the
// checks, and fix actions as data. It knows nothing of Slack, Redis or the
// Tencent Cloud SDK: the cloud is reached through the small interfaces declared
// in cloud.go, which diag/tencent implements against the real APIs and
// diag/tencentsim serves on loopback for tests.
package diag
