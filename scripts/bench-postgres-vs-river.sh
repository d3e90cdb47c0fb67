#!/bin/sh
# Runs asyncmq's bench on PostgreSQL and the River peer (bench/peers/river) alternately, ROUNDS
# times, so both see the same machine load; compare ratios within a round. Creates the databases
# AMQ_DB (default "amqbench") and RIVER_DB (default "riverbench") on $PGURL_BASE when missing, and
# empties AMQ_DB between rounds: never point it at a database holding anything else. Prints one
# JSON object per run.
#
#   ROUNDS=3 JOBS=20000 scripts/bench-postgres-vs-river.sh
#
# BASE_BIN=<an older asyncmq binary> also runs it after asyncmq in every step, on a database of
# its own (BASE_DB, default "amqbench_base": an older binary refuses a newer schema), for a
# before/after ratio measured under the same load.
set -eu
BASE=${PGURL_BASE:-postgres://postgres@127.0.0.1:5432}
JOBS=${JOBS:-20000}
BULK_JOBS=${BULK_JOBS:-100000}
ROUNDS=${ROUNDS:-2}
AMQ_DB=${AMQ_DB:-amqbench}
RIVER_DB=${RIVER_DB:-riverbench}
BASE_BIN=${BASE_BIN:-}
BASE_DB=${BASE_DB:-amqbench_base}
DBS="$AMQ_DB $RIVER_DB"
if [ -n "$BASE_BIN" ]; then DBS="$DBS $BASE_DB"; fi
for db in $DBS; do
	psql "$BASE/postgres?sslmode=disable" -Atc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
		psql "$BASE/postgres?sslmode=disable" -c "CREATE DATABASE $db" >/dev/null
done
# Binaries go to a directory of this run, so two runs on one machine do not overwrite each other.
BIN=$(mktemp -d)
trap 'rm -rf "$BIN"' EXIT
go build -o "$BIN/amq" ./cmd/asyncmq
(cd bench/peers/river && go build -o "$BIN/riverbench" .)
AMQ="$BASE/$AMQ_DB?sslmode=disable&migrate=auto"
RIVER="$BASE/$RIVER_DB?sslmode=disable"
AMQ_BASE="$BASE/$BASE_DB?sslmode=disable&migrate=auto"
# base runs the BASE_BIN asyncmq, when given, with the arguments of the asyncmq run.
base() {
	if [ -n "$BASE_BIN" ]; then
		printf 'base: '
		"$BASE_BIN" bench --backend "$AMQ_BASE" "$@" --json | tr -d '\n '
		echo
	fi
}
# River's bench tunes its client with FetchCooldown 2ms and FetchPollInterval 20ms (the peer
# does the same); asyncmq runs with the same fetch cooldown.
for round in $(seq "$ROUNDS"); do
	for c in 50 1000; do
		echo "== round $round, concurrency $c, 50 producers ($(uptime | sed 's/.*load/load/'))"
		"$BIN/amq" bench --backend "$AMQ" --jobs "$JOBS" --producers 50 --concurrency "$c" --fetch-cooldown 2ms --json
		base --jobs "$JOBS" --producers 50 --concurrency "$c" --fetch-cooldown 2ms
		"$BIN/riverbench" -url "$RIVER" -jobs "$JOBS" -producers 50 -concurrency "$c"
	done
	echo "== round $round, bulk ($(uptime | sed 's/.*load/load/'))"
	# Bulk: 4 producers each, inserting batches of 1,000.
	"$BIN/amq" bench --backend "$AMQ" --jobs "$BULK_JOBS" --bulk --producers 4 --concurrency 50 --fetch-cooldown 2ms --json
	base --jobs "$BULK_JOBS" --bulk --producers 4 --concurrency 50 --fetch-cooldown 2ms
	"$BIN/riverbench" -url "$RIVER" -jobs "$BULK_JOBS" -bulk -producers 4 -concurrency 50
	# Each asyncmq run leaves its jobs in a queue of its own: empty the store between rounds.
	for db in $DBS; do
		if [ "$db" != "$RIVER_DB" ]; then
			psql "$BASE/$db?sslmode=disable" -qc "TRUNCATE asyncmq_jobs, asyncmq_job_deps, asyncmq_event_log, asyncmq_events, asyncmq_metrics, asyncmq_task_metrics, asyncmq_queues" >/dev/null
		fi
	done
done
