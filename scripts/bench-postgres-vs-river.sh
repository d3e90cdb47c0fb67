#!/bin/sh
# Runs asyncmq's bench on PostgreSQL and the River peer (bench/peers/river) alternately, ROUNDS
# times, so both see the same machine load; compare ratios within a round. Creates the databases
# "amqbench" and "riverbench" on $PGURL_BASE when missing. Prints one JSON line per run.
#
#   ROUNDS=3 JOBS=20000 scripts/bench-postgres-vs-river.sh
set -eu
BASE=${PGURL_BASE:-postgres://postgres@127.0.0.1:5432}
JOBS=${JOBS:-20000}
BULK_JOBS=${BULK_JOBS:-100000}
ROUNDS=${ROUNDS:-2}
for db in amqbench riverbench; do
	psql "$BASE/postgres?sslmode=disable" -Atc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
		psql "$BASE/postgres?sslmode=disable" -c "CREATE DATABASE $db" >/dev/null
done
go build -o /tmp/amq ./cmd/asyncmq
(cd bench/peers/river && go build -o /tmp/riverbench .)
AMQ="$BASE/amqbench?sslmode=disable&migrate=auto"
RIVER="$BASE/riverbench?sslmode=disable"
# River's bench tunes its client with FetchCooldown 2ms and FetchPollInterval 20ms (the peer
# does the same); asyncmq runs with the same fetch cooldown.
for round in $(seq "$ROUNDS"); do
	for c in 50 1000; do
		echo "== round $round, concurrency $c, 50 producers ($(uptime | sed 's/.*load/load/'))"
		/tmp/amq bench --backend "$AMQ" --jobs "$JOBS" --producers 50 --concurrency "$c" --fetch-cooldown 2ms --json
		/tmp/riverbench -url "$RIVER" -jobs "$JOBS" -producers 50 -concurrency "$c"
	done
	echo "== round $round, bulk ($(uptime | sed 's/.*load/load/'))"
	# Bulk: 4 producers each, inserting batches of 1,000.
	/tmp/amq bench --backend "$AMQ" --jobs "$BULK_JOBS" --bulk --producers 4 --concurrency 50 --fetch-cooldown 2ms --json
	/tmp/riverbench -url "$RIVER" -jobs "$BULK_JOBS" -bulk -producers 4 -concurrency 50
	# Each asyncmq run leaves its jobs in a queue of its own: empty the store between rounds.
	psql "$BASE/amqbench?sslmode=disable" -qc "TRUNCATE asyncmq_jobs, asyncmq_job_deps, asyncmq_event_log, asyncmq_events, asyncmq_metrics, asyncmq_queues" >/dev/null
done
