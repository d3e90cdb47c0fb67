package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// Functions (see script). The store loads its function libraries when it opens, and again when
// a call finds its function missing; the call itself then runs as a script, so it never waits
// on a second miss. A library is named after its script's SHA: a new version of the store loads
// libraries of its own beside those of earlier versions, which stay until deleted (FUNCTION
// DELETE, or FUNCTION FLUSH, which costs every process one reload). A server that refuses
// FUNCTION LOAD (an ACL without the function commands, a proxy that does not pass them on) turns
// the store back to scripts for every call, with one warning in the log.

// isNoFunction reports the error of an FCALL of a function the server does not have.
func isNoFunction(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Function not found")
}

// loadFunctions loads every function library on the server (on every master of a Cluster), or,
// when the server refuses, stops calling functions.
func (s *Store) loadFunctions(ctx context.Context) {
	err := s.forEachMaster(ctx, func(ctx context.Context, c goredis.Cmdable) error {
		for _, sc := range functionScripts {
			if err := c.FunctionLoad(ctx, sc.lib).Err(); err != nil && !strings.Contains(err.Error(), "already exists") {
				return fmt.Errorf("load function library %s: %w", sc.fn, err)
			}
		}
		return nil
	})
	if err == nil {
		return
	}
	if ctx.Err() != nil || !refused(err) {
		// The next call that misses its function tries again.
		s.log.Warn("asyncmq redis: load the function libraries", "err", err)
		return
	}
	if s.functions.CompareAndSwap(true, false) {
		s.log.Warn("asyncmq redis: the server refuses to load functions; every call runs as a script, which costs Redis more per claim", "err", err)
	}
}

// refused reports an answer of the server that loading again will not change: not a network
// error, and none of the errors of a server busy, loading, failing over or full.
func refused(err error) bool {
	var rerr goredis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	for _, p := range []string{"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN", "READONLY", "OOM"} {
		if strings.HasPrefix(msg, p) {
			return false
		}
	}
	return true
}

// forEachMaster runs f on the server, or on each master of a Cluster, at once.
func (s *Store) forEachMaster(ctx context.Context, f func(context.Context, goredis.Cmdable) error) error {
	cc, ok := s.rdb.(*goredis.ClusterClient)
	if !ok {
		return f(ctx, s.rdb)
	}
	var mu sync.Mutex
	var first error
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		if err := f(ctx, c); err != nil {
			mu.Lock()
			if first == nil {
				first = err
			}
			mu.Unlock()
		}
		return nil
	})
	if first != nil {
		return first
	}
	return err
}
