// Package cli holds the plumbing of the asyncmq command: exit codes, ASYNCMQ_* environment
// variables for flags, table and JSON output, terminal progress and the small parsers the flags
// need. It knows nothing about cobra commands; cmd/asyncmq wires these pieces to them.
package cli
