#!/bin/sh
# Runs asyncmq's bench on Redis and the asynq peer (bench/peers/asynq) alternately, ROUNDS times,
# so both see the same machine load; compare ratios within a round. Each program gets a Redis
# database of its own (AMQ_DB, ASYNQ_DB), flushed before every round: never point them at a
# database holding anything else (the tests use 9). Prints the load, then one JSON line per run
# and, after each asynq run without --overlap (which is about latency), asyncmq's rates over
# asynq's in that step.
#
#   ROUNDS=3 JOBS=20000 scripts/bench-redis-vs-asynq.sh
#
# BASE_BIN=<an older asyncmq binary> also runs it after asyncmq in every step, on database BASE_DB
# (an older build may refuse data of a newer key layout), for a before/after ratio measured under
# the same load.
#
# Each step also prints the CPU time the virtual machine lost to steal while it ran (from
# /proc/stat): rates measured under much steal are not comparable with others.
set -eu
HOSTPORT=${REDIS_HOSTPORT:-127.0.0.1:6379}
AMQ_DB=${AMQ_DB:-11}
ASYNQ_DB=${ASYNQ_DB:-12}
JOBS=${JOBS:-20000}
BULK_JOBS=${BULK_JOBS:-100000}
ROUNDS=${ROUNDS:-2}
BASE_BIN=${BASE_BIN:-}
BASE_DB=${BASE_DB:-13}
for db in "$AMQ_DB" "$ASYNQ_DB" "$BASE_DB"; do
	case $db in 0 | 9) echo "refusing to use (and flush) Redis database $db" >&2; exit 2 ;; esac
done
# Binaries go to a directory of this run, so two runs on one machine do not overwrite each other.
BIN=$(mktemp -d)
trap 'rm -rf "$BIN"' EXIT
go build -o "$BIN/amq-redis" ./cmd/asyncmq
(cd bench/peers/asynq && go build -o "$BIN/asynqbench" .)
AMQ="redis://$HOSTPORT/$AMQ_DB"
ASYNQ="redis://$HOSTPORT/$ASYNQ_DB"
BASE="redis://$HOSTPORT/$BASE_DB"
# base runs the BASE_BIN asyncmq, when given, with the arguments of the asyncmq run.
base() {
	if [ -n "$BASE_BIN" ]; then
		printf 'base: '
		"$BASE_BIN" bench --backend "$BASE" "$@" --json | tr -d '\n '
		echo
	fi
}
flush() {
	redis-cli -u "$AMQ" FLUSHDB >/dev/null
	redis-cli -u "$ASYNQ" FLUSHDB >/dev/null
	if [ -n "$BASE_BIN" ]; then redis-cli -u "$BASE" FLUSHDB >/dev/null; fi
}
# cpu prints the steal and total CPU time so far (Linux); steal <before> prints the share of CPU
# time lost to steal since.
cpu() { awk '/^cpu / { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat 2>/dev/null; }
steal() {
	printf '%s %s\n' "$1" "$(cpu)" | awk 'NF == 4 && $4 > $2 { printf "steal during the step: %.0f%% of CPU time\n", 100 * ($3 - $1) / ($4 - $2) }'
}
load() { uptime | sed 's/.*load/load/'; }
# field <json> <name> prints the number a one-line JSON object holds under name.
field() { printf '%s\n' "$1" | sed -n "s/.*\"$2\":\([0-9.eE+-]*\).*/\1/p"; }
# ratio <asyncmq json> <asynq json> prints asyncmq's rates over asynq's, measured in the same step.
ratio() {
	awk -v a="$(field "$1" enqueue_jobs_per_s)" -v b="$(field "$2" enqueue_jobs_per_s)" \
		-v c="$(field "$1" process_jobs_per_s)" -v d="$(field "$2" process_jobs_per_s)" \
		'BEGIN { if (b > 0 && d > 0) printf "ratio to asynq: enqueue %.2fx, process %.2fx\n", a / b, c / d }'
}
for round in $(seq "$ROUNDS"); do
	flush
	for c in 50 1000; do
		echo "== round $round, concurrency $c, 50 producers ($(load))"
		t0=$(cpu)
		amq=$("$BIN/amq-redis" bench --backend "$AMQ" --jobs "$JOBS" --producers 50 --concurrency "$c" --json | tr -d '\n ')
		echo "$amq"
		base --jobs "$JOBS" --producers 50 --concurrency "$c"
		peer=$("$BIN/asynqbench" -redis "$ASYNQ" -jobs "$JOBS" -producers 50 -concurrency "$c" | tr -d '\n ')
		echo "$peer"
		ratio "$amq" "$peer"
		steal "$t0"
	done
	echo "== round $round, concurrency 50, 50 producers, --overlap ($(load))"
	t0=$(cpu)
	amq=$("$BIN/amq-redis" bench --backend "$AMQ" --jobs "$JOBS" --producers 50 --concurrency 50 --overlap --json | tr -d '\n ')
	echo "$amq"
	base --jobs "$JOBS" --producers 50 --concurrency 50 --overlap
	peer=$("$BIN/asynqbench" -redis "$ASYNQ" -jobs "$JOBS" -producers 50 -concurrency 50 -overlap | tr -d '\n ')
	echo "$peer"
	steal "$t0"
	# Bulk: 4 producers, batches of 1,000 jobs. The asynq peer has no bulk mode (asynq enqueues one
	# task per call), so this line has no peer.
	echo "== round $round, bulk ($(load))"
	t0=$(cpu)
	"$BIN/amq-redis" bench --backend "$AMQ" --jobs "$BULK_JOBS" --bulk --producers 4 --concurrency 50 --json | tr -d '\n '; echo
	base --jobs "$BULK_JOBS" --bulk --producers 4 --concurrency 50
	steal "$t0"
done
flush
