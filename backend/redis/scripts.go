package redis

import (
	"context"
	"crypto/sha1"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua
var luaFiles embed.FS

// script is one Lua transition: the shared prelude, the parts it uses (functions shared by a few
// scripts), then the script's own body. It runs by SHA (EVALSHA); a server that does not know it
// (a restart, SCRIPT FLUSH, a new Cluster node) answers NOSCRIPT and the call is sent once more
// with the source, which caches it again.
//
// The hottest scripts (claim and finish) also run as Redis functions (FCALL): a script runs
// its whole prelude on every call, defining every function and table it holds (about a fifth of
// a 25-job claim's Redis time, in closures and the garbage they leave), while a function
// library runs its top level once, when it is loaded, and a call runs only the body. See
// functions.go.
type script struct {
	name string
	src  string
	sha  string
	// fn is the name of the script's function, and lib the library that defines it, for a
	// script that also runs as a function; empty for the others.
	fn, lib string
}

func loadScript(name string, parts ...string) *script {
	return scriptOf(readSources(name, parts))
}

// sources are a script's Lua texts: the prelude, its parts run together, and its body.
type sources struct{ name, prelude, parts, body string }

func readSources(name string, parts []string) sources {
	var ps strings.Builder
	for _, f := range parts {
		ps.WriteString(readLua(f))
	}
	return sources{name: name, prelude: readLua("prelude"), parts: ps.String(), body: readLua(name)}
}

// scriptOf is the script (EVAL) of src: it runs begin_call right after the prelude.
func scriptOf(src sources) *script {
	text := src.prelude + "begin_call()\n" + src.parts + src.body
	sum := sha1.Sum([]byte(text))
	return &script{name: src.name, src: text, sha: hex.EncodeToString(sum[:])}
}

// loadFunction is loadScript for a script that also runs as a function: its library holds the
// prelude and parts at its top level, and registers a function that readies the call
// (begin_call, begin_state in prelude.lua) and runs the body. The names carry the library's
// SHA, so that processes of different versions sharing a server each find their own.
func loadFunction(name string, parts ...string) *script {
	src := readSources(name, parts)
	sc := scriptOf(src)
	// The library is written with a placeholder for its name, which is then the SHA of that
	// text: every change of the library, of its Lua or of this wrapper, names it anew.
	const placeholder = "asyncmq_NAME"
	var lib strings.Builder
	fmt.Fprintf(&lib, "#!lua name=%s\nlocal KEYS, ARGV\n", placeholder)
	lib.WriteString(src.prelude)
	lib.WriteString(src.parts)
	fmt.Fprintf(&lib, "redis.register_function('%s', function(keys, args)\nKEYS, ARGV = keys, args\nbegin_call()\nbegin_state()\n", placeholder)
	lib.WriteString(src.body)
	lib.WriteString("end)\n")
	sum := sha1.Sum([]byte(lib.String()))
	sc.fn = "asyncmq_" + name + "_" + hex.EncodeToString(sum[:10])
	sc.lib = strings.ReplaceAll(lib.String(), placeholder, sc.fn)
	return sc
}

// readLua returns lua/<name>.lua, ending in a newline.
func readLua(name string) string {
	b, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}

var (
	scriptEnqueue    = loadScript("enqueue", "enqueue_lib")
	scriptFire       = loadScript("fire", "enqueue_lib")
	scriptClaim      = loadFunction("claim", "order", "claim_jobs")
	scriptFinish     = loadFunction("finish", "finish_jobs")
	scriptExtend     = loadScript("extend")
	scriptRelease    = loadScript("release")
	scriptProgress   = loadScript("progress")
	scriptPromote    = loadScript("promote")
	scriptRecover    = loadScript("recover")
	scriptApply      = loadScript("apply")
	scriptClean      = loadScript("clean")
	scriptDrain      = loadScript("drain")
	scriptObliterate = loadScript("obliterate")
	scriptSettings   = loadScript("settings")
	scriptRepeatable = loadScript("repeatable")
	scriptTrim       = loadScript("trim")
)

// functionScripts are the scripts that also run as functions.
var functionScripts = []*script{scriptClaim, scriptFinish}

// micros is the store's time unit: Unix microseconds, exact in Lua's doubles until year 2255.
func micros(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

// call is one script invocation on one queue.
type call struct {
	s    *script
	keys []string
	args []any
}

// queueCall builds a call of s on queue with the prelude's common arguments followed by extra.
func (s *Store) queueCall(sc *script, queue string, now time.Time, extraKeys []string, extra ...any) call {
	k := s.queueKeys(queue)
	keys := k.list
	if len(extraKeys) > 0 {
		keys = append(append(make([]string, 0, len(keys)+len(extraKeys)), keys...), extraKeys...)
	}
	global := "1"
	if s.cluster {
		global = "0"
	}
	args := make([]any, 0, 7+len(extra))
	args = append(args, k.base+"j:", queue, micros(now), k.base+"m:", k.wake(), s.events, global)
	args = append(args, extra...)
	return call{s: sc, keys: keys, args: args}
}

// eval runs one call through the pipeliner, so concurrent calls from many goroutines share
// round trips.
func (s *Store) eval(ctx context.Context, c call) (any, error) {
	res := s.pipe.submit(ctx, c)
	return res.val, res.err
}

// evalMany runs calls in one pipeline (one round trip per Cluster node) and returns each result.
// A call of a function the server does not have (a restart without persistence, FUNCTION FLUSH,
// a new Cluster node) is sent again as a script, after the functions are loaded again.
func (s *Store) evalMany(ctx context.Context, calls []call) []result {
	out := make([]result, len(calls))
	cmds := make([]*goredis.Cmd, len(calls))
	useFn := s.useFunctions(ctx)
	_, _ = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, c := range calls {
			if useFn && c.s.fn != "" {
				cmds[i] = p.FCall(ctx, c.s.fn, c.keys, c.args...)
			} else {
				cmds[i] = p.EvalSha(ctx, c.s.sha, c.keys, c.args...)
			}
		}
		return nil
	})
	var retry []int
	reload, denied := false, false
	for i, cmd := range cmds {
		v, err := cmd.Result()
		fn := useFn && calls[i].s.fn != ""
		// A full Redis refuses a function before it runs, where a script runs until its first
		// write: the call runs again as a script, so that a claim of an idle queue still
		// answers that it has no jobs. Each retried call made no write (see functions.go).
		if err != nil && (isNoScript(err) || fn && (isNoFunction(err) || isNoPerm(err) || isOOM(err))) {
			reload = reload || isNoFunction(err)
			denied = denied || isNoPerm(err)
			retry = append(retry, i)
			continue
		}
		out[i] = result{v, s.wrapRedisErr(err)}
	}
	if denied {
		// An ACL that lets the user load functions but not call them: scripts from now on.
		if s.functions.CompareAndSwap(true, false) {
			s.log.Warn("asyncmq redis: the server refuses FCALL; every call runs as a script, which costs Redis more per claim")
		}
	} else if reload {
		_ = s.loadFunctions(ctx)
	}
	if len(retry) > 0 {
		_, _ = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, i := range retry {
				cmds[i] = p.Eval(ctx, calls[i].s.src, calls[i].keys, calls[i].args...)
			}
			return nil
		})
		for _, i := range retry {
			v, err := cmds[i].Result()
			out[i] = result{v, s.wrapRedisErr(err)}
		}
	}
	return out
}

func isOOM(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "OOM")
}

// isNoPerm reports the refusal of an FCALL by the user's ACL: the command itself, not its keys,
// which a script would be refused as well.
func isNoPerm(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOPERM") && strings.Contains(err.Error(), "'fcall")
}

func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// errFull names the condition users must act on when Redis refuses writes for lack of memory.
var errFull = errors.New("redis is out of memory (maxmemory reached with policy noeviction): nothing was written; raise maxmemory or clean finished jobs")

// wrapRedisErr turns the server's terse errors into ones that say what to do. goredis.Nil (a
// script returning nil) is not an error here.
func (s *Store) wrapRedisErr(err error) error {
	if err == nil || errors.Is(err, goredis.Nil) {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "OOM"):
		return fmt.Errorf("%w (%s)", errFull, msg)
	case strings.Contains(msg, "CROSSSLOT"):
		return fmt.Errorf("redis cluster: keys in different slots (%s): this is a bug in the store", msg)
	}
	return err
}
