package redis

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Functions (see script). The store loads its function libraries when it opens, and again when
// a call finds its function missing; the call itself then runs as a script, so it never waits
// on a second miss. A library is named after the SHA of its text: a new version of the store
// loads libraries of its own, and deletes those of other versions when it opens
// (pruneFunctions). A server that refuses FUNCTION LOAD for good (an ACL without the function
// commands, a proxy that does not know them) turns the store back to scripts for every call,
// with one warning in the log; a load that fails for a while (a full Redis, a replica missing
// under min-replicas-to-write, a master out of reach) is logged once, calls run as scripts
// meanwhile, and a load is tried again each second until one succeeds.
//
// A call retried as a script made no write: Redis answers "Function not found" and NOPERM
// before running anything, and OOM before a call's first write.

// isNoFunction reports the error of an FCALL of a function the server does not have.
func isNoFunction(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Function not found")
}

// loadRetry is the shortest time between two loads of the functions that fail for a while.
const loadRetry = time.Second

// useFunctions reports whether calls are to be made as functions now: not after a refusal for
// good, nor while the last load failed, until a new load, tried once loadRetry has passed,
// succeeds. Meanwhile calls go straight to scripts, rather than each first meeting "Function not
// found".
func (s *Store) useFunctions(ctx context.Context) bool {
	if !s.functions.Load() {
		return false
	}
	if !s.loadFailing.Load() {
		return true
	}
	_ = s.loadFunctions(ctx)
	return s.functions.Load() && !s.loadFailing.Load()
}

// loadFunctions loads every function library on the server (on every master of a Cluster), or,
// when the server refuses for good, stops calling functions. One caller at a time loads, and
// after a failure that may pass, none until loadRetry has passed; the failures of one outage
// are logged once. It reports whether this call loaded them.
func (s *Store) loadFunctions(ctx context.Context) bool {
	now := time.Now().UnixNano()
	after := s.loadAfter.Load()
	if now < after || !s.loadAfter.CompareAndSwap(after, now+int64(loadRetry)) {
		return false // too soon after a failure, or another caller is loading
	}
	err := s.forEachMaster(ctx, func(ctx context.Context, c goredis.Cmdable) error {
		for _, sc := range functionScripts {
			if err := c.FunctionLoad(ctx, sc.lib).Err(); err != nil && !strings.Contains(err.Error(), "already exists") {
				return fmt.Errorf("load function library %s: %w", sc.fn, err)
			}
		}
		return nil
	})
	if err == nil {
		// A server that loses them again (FUNCTION FLUSH) gets them back at the next miss.
		s.loadAfter.Store(0)
		if s.loadFailing.CompareAndSwap(true, false) {
			s.log.Info("asyncmq redis: the function libraries are loaded again; calls run as functions")
		}
		return true
	}
	if ctx.Err() != nil || !refused(err) {
		if s.loadFailing.CompareAndSwap(false, true) {
			s.log.Warn("asyncmq redis: load the function libraries; calls run as scripts until a load succeeds", "err", err)
		}
		return false
	}
	s.loadFailing.Store(false)
	if s.functions.CompareAndSwap(true, false) {
		s.log.Warn("asyncmq redis: the server refuses to load functions; every call runs as a script, which costs Redis more per claim", "err", err)
	}
	return false
}

// libraryName matches the names the store gives its libraries, in every version.
var libraryName = regexp.MustCompile(`^asyncmq_(claim|finish)_[0-9a-f]{20}$`)

// pruneFunctions deletes the libraries of other versions of the store, so that they do not pile
// up on the server with every upgrade. It runs when a store opens: a process of another version
// still running meets "Function not found" at its next call and loads its own again, once per
// process started, which is why a reload never prunes. Pruning is best effort: a failure is
// logged, and costs only memory.
func (s *Store) pruneFunctions(ctx context.Context) {
	own := make(map[string]bool, len(functionScripts))
	for _, sc := range functionScripts {
		own[sc.fn] = true
	}
	err := s.forEachMaster(ctx, func(ctx context.Context, c goredis.Cmdable) error {
		libs, err := c.FunctionList(ctx, goredis.FunctionListQuery{LibraryNamePattern: "asyncmq_*"}).Result()
		if err != nil {
			return fmt.Errorf("list function libraries: %w", err)
		}
		for _, l := range libs {
			if own[l.Name] || !libraryName.MatchString(l.Name) {
				continue
			}
			// Another process may have deleted it first.
			if err := c.FunctionDelete(ctx, l.Name).Err(); err != nil && !strings.Contains(err.Error(), "not found") {
				return fmt.Errorf("delete function library %s: %w", l.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("asyncmq redis: delete the function libraries of other versions", "err", err)
	}
}

// refused reports an answer of the server that loading again will not change: the user may not
// run the command, the server does not know it, or the library does not compile or register (a
// bug of the store). Anything else (a network error, a server busy, loading, failing over,
// full, missing replicas, unable to persist) may pass.
func refused(err error) bool {
	var rerr goredis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	return strings.HasPrefix(msg, "NOPERM") || strings.Contains(msg, "unknown command") ||
		strings.Contains(msg, "unknown subcommand") || strings.Contains(msg, "Error compiling") ||
		strings.Contains(msg, "Error registering")
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
