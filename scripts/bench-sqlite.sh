#!/bin/sh
# Measures the embedded default (SQLite) where issue 15 set goals, ROUNDS times, each round
# running its steps back to back so the figures share the machine's load:
#
#   - concurrency 50 and 1000, 50 producers, JOBS no-op jobs (throughput);
#   - --overlap at a paced RATE (default 5,000 jobs/s) from 4 producers (enqueue-to-start latency
#     at a steady load);
#   - River on PostgreSQL (bench/peers/river, tuned as `river bench`) at concurrency 50 and 1000,
#     the peer the c=1000 goal names; RIVER=0 leaves it out.
#
# Every asyncmq run gets a fresh database file under a directory of this run. BASE_BIN=<an older
# asyncmq binary> also runs it after asyncmq in every step, for a before/after ratio under the
# same load (an older binary without --rate runs the latency step unpaced: read its
# enqueue_jobs_per_s). Prints the load, then one JSON line per run.
#
#   ROUNDS=3 scripts/bench-sqlite.sh
set -eu
JOBS=${JOBS:-20000}
ROUNDS=${ROUNDS:-2}
RATE=${RATE:-5000}
RIVER=${RIVER:-1}
RIVER_DB=${RIVER_DB:-riverbench}
PGURL_BASE=${PGURL_BASE:-postgres://postgres@127.0.0.1:5432}
BASE_BIN=${BASE_BIN:-}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
go build -o "$DIR/amq" ./cmd/asyncmq
if [ "$RIVER" != 0 ]; then
	psql "$PGURL_BASE/postgres?sslmode=disable" -Atc "SELECT 1 FROM pg_database WHERE datname = '$RIVER_DB'" | grep -q 1 ||
		psql "$PGURL_BASE/postgres?sslmode=disable" -c "CREATE DATABASE $RIVER_DB" >/dev/null
	(cd bench/peers/river && go build -o "$DIR/riverbench" .)
fi
load() { uptime | sed 's/.*load/load/'; }
n=0
# run BIN ARGS... runs one asyncmq bench on a fresh file.
run() {
	bin=$1
	shift
	n=$((n + 1))
	printf '%s: ' "$(basename "$bin")"
	"$bin" bench --backend "sqlite://$DIR/bench-$n.db" "$@" --json | tr -d '\n '
	echo
	rm -f "$DIR/bench-$n.db" "$DIR/bench-$n.db-wal" "$DIR/bench-$n.db-shm"
}
both() {
	run "$DIR/amq" "$@"
	if [ -n "$BASE_BIN" ]; then
		run "$BASE_BIN" "$@"
	fi
}
for round in $(seq "$ROUNDS"); do
	for c in 50 1000; do
		echo "== round $round, concurrency $c, 50 producers ($(load))"
		both --jobs "$JOBS" --producers 50 --concurrency "$c"
		if [ "$RIVER" != 0 ]; then
			printf 'river: '
			"$DIR/riverbench" -url "$PGURL_BASE/$RIVER_DB?sslmode=disable" -jobs "$JOBS" -producers 50 -concurrency "$c" | tr -d '\n '
			echo
		fi
	done
	echo "== round $round, --overlap at $RATE jobs/s, 4 producers, concurrency 50 ($(load))"
	run "$DIR/amq" --jobs "$JOBS" --producers 4 --concurrency 50 --overlap --rate "$RATE"
	if [ -n "$BASE_BIN" ]; then
		if "$BASE_BIN" bench --help 2>&1 | grep -q -- --rate; then
			run "$BASE_BIN" --jobs "$JOBS" --producers 4 --concurrency 50 --overlap --rate "$RATE"
		else
			run "$BASE_BIN" --jobs "$JOBS" --producers 4 --concurrency 50 --overlap
		fi
	fi
done
