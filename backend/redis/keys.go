package redis

import "github.com/asyncmq/asyncmq/asyncmqtype"

// Key layout. Every key of one queue starts with "<prefix>:{<queue>}:", so the queue's hash tag
// puts all of them in one Cluster slot and a script may touch any of them. The few keys shared
// by every queue carry no queue tag:
//
//	<prefix>:{<q>}:meta        HASH   k (known), pz (paused), rl/ri/rs/rc (rate limit window)
//	<prefix>:{<q>}:j:<id>      HASH   one job (fields in codec.go), once a script first changed it
//	<prefix>:{<q>}:pk          HASH   job ID -> packed record: the job's fields as stored, in place
//	                                  of its j:<id> hash until a claim gives it one, then beside
//	                                  it (record.go); one copy of each payload either way
//	<prefix>:{<q>}:ready       ZSET   claimable jobs, score 0, member priority|run-at|id (lexical),
//	                                  but for those of the lane
//	<prefix>:{<q>}:lane        ZSET   waiting jobs of priority lanePriority due at their creation,
//	                                  by CreatedAt µs, member id: this order is the one of their
//	                                  members in the ready set (lane.go)
//	<prefix>:{<q>}:s:<state>   ZSET   jobs of a state by CreatedAt µs (listings, counts, pages);
//	                                  s:waiting lacks the lane's jobs; waiting-children holds the
//	                                  jobs blocked on parents; no s:active (earlier versions wrote
//	                                  one; it is only deleted)
//	<prefix>:{<q>}:due         ZSET   delayed jobs by RunAt µs
//	<prefix>:{<q>}:lease       ZSET   active jobs by lease expiry µs; also their count and, sorted
//	                                  by CreatedAt in the client, their listing
//	<prefix>:{<q>}:f:<state>   ZSET   terminal jobs by FinishedAt µs (Clean, retention)
//	<prefix>:{<q>}:uniq        HASH   unique key -> job ID
//	<prefix>:{<q>}:mi, :m:<min> ZSET/HASH per-minute metric buckets (expire after 8 days)
//	<prefix>:{<q>}:rids, :rdue, :r:<id>  repeatables of the queue
//	<prefix>:{<q>}:events      STREAM events of the queue (Cluster only)
//	<prefix>:{<q>}:wake        sharded pub/sub channel: the queue may have runnable jobs
//	<prefix>:events            STREAM every event (single server and Sentinel); beside each
//	                                  stream, <stream>:n counts its events (see events.go)
//	<prefix>:jobq              HASH   job ID -> queue (GetJob, ApplyJobs by ID); on a single server
//	                                  it lacks the IDs asyncmq made of plain enqueues (global.go)
//	<prefix>:queues, :allq     SET    known queues; every queue that ever had metrics or events
//	<prefix>:reps              HASH   repeatable ID -> queue
//	<prefix>:{w}:info, :started, :hb  worker records
//	<prefix>:{audit}:seq, :log        audit entries
//	<prefix>:layout            STRING the key layout of the data (Layout in redis.go)

// qkeys are the names of one queue's keys, in the order the scripts' prelude reads KEYS.
type qkeys struct {
	base string
	list []string
}

// keyCacheMax bounds the queues whose key names a Store keeps: names are cheap to rebuild, and an
// application that makes queue names on the fly must not grow the cache without end.
const keyCacheMax = 4096

// queueKeys returns the names of the queue's keys. They are built once per queue and kept, since
// every script call needs all of them; callers must not change the list.
func (s *Store) queueKeys(queue string) qkeys {
	if k, ok := s.keyCache.Load(queue); ok {
		return k.(qkeys)
	}
	k := s.buildQueueKeys(queue)
	if s.keyCached.Load() < keyCacheMax {
		if _, loaded := s.keyCache.LoadOrStore(queue, k); !loaded {
			s.keyCached.Add(1)
		}
	}
	return k
}

func (s *Store) buildQueueKeys(queue string) qkeys {
	base := s.prefix + ":{" + queue + "}:"
	k := qkeys{base: base}
	ev, jobq, queues, allq := s.prefix+":events", s.prefix+":jobq", s.prefix+":queues", s.prefix+":allq"
	if s.cluster {
		// Scripts may only touch their own slot: events go to the queue's stream and the shared
		// indexes are written by the client after the script (see global.go).
		ev, jobq, queues, allq = base+"events", base+"none", base+"none", base+"none"
	}
	k.list = []string{
		base + "meta", base + "ready",
		base + "s:waiting", base + "s:active", base + "s:delayed", base + "s:completed", base + "s:failed", base + "s:cancelled",
		base + "due", base + "lease",
		base + "f:completed", base + "f:failed", base + "f:cancelled",
		base + "uniq", ev, base + "mi", jobq, queues, allq,
		base + "rids", base + "rdue",
		// Added after the others so the positions of the keys before it stay.
		base + "s:waiting-children",
		base + "pk",
		base + "lane",
	}
	return k
}

func (k qkeys) meta() string                { return k.list[0] }
func (k qkeys) ready() string               { return k.list[1] }
func (k qkeys) job(id string) string        { return k.base + "j:" + id }
func (k qkeys) repeatable(id string) string { return k.base + "r:" + id }
func (k qkeys) metric(minute string) string { return k.base + "m:" + minute }

// metricTasks is the per-task bucket beside metric(minute); its fields are task SEP counter.
func (k qkeys) metricTasks(minute string) string { return k.metric(minute) + ":t" }
func (k qkeys) metricIndex() string              { return k.list[15] }
func (k qkeys) events() string                   { return k.list[14] }
func (k qkeys) rdue() string                     { return k.list[20] }
func (k qkeys) wake() string                     { return k.base + "wake" }
func (k qkeys) packed() string                   { return k.list[22] }
func (k qkeys) lane() string                     { return k.list[23] }

// state returns the key of the set that counts the jobs of the state of index i
// (asyncmqtype.State.Index): its s:<state> set, or for active jobs the lease set, whose order is
// not the listing's (see ranked).
func (k qkeys) state(i int) string {
	switch i {
	case asyncmqtype.StateWaitingChildren.Index():
		return k.list[21]
	case asyncmqtype.StateActive.Index():
		return k.lease()
	}
	return k.list[2+i]
}

func (k qkeys) lease() string { return k.list[9] }

func (s *Store) jobqKey() string   { return s.prefix + ":jobq" }
func (s *Store) queuesKey() string { return s.prefix + ":queues" }
func (s *Store) allqKey() string   { return s.prefix + ":allq" }
func (s *Store) repsKey() string   { return s.prefix + ":reps" }
func (s *Store) eventsKey() string { return s.prefix + ":events" }
func (s *Store) workerKeys() (info, started, hb string) {
	b := s.prefix + ":{w}:"
	return b + "info", b + "started", b + "hb"
}
func (s *Store) auditKeys() (seq, log string) {
	b := s.prefix + ":{audit}:"
	return b + "seq", b + "log"
}
