#!/bin/sh
# Runs asyncmq's bench on PostgreSQL and the River peer (bench/peers/river) back to back, so
# both see the same machine load. Needs databases "bench" and "riverbench" on $PGURL_BASE.
set -eu
BASE=${PGURL_BASE:-postgres://postgres@127.0.0.1:5432}
JOBS=${JOBS:-20000}
go build -o /tmp/amq ./cmd/asyncmq
(cd bench/peers/river && go build -o /tmp/riverbench .)
for c in 50 1000; do
	echo "== concurrency $c"
	/tmp/amq bench --backend "$BASE/bench?sslmode=disable&migrate=auto" --jobs "$JOBS" --producers 50 --concurrency "$c" --fetch-cooldown 2ms --json
	/tmp/riverbench -url "$BASE/riverbench?sslmode=disable" -jobs "$JOBS" -producers 50 -concurrency "$c"
done
echo "== bulk"
/tmp/amq bench --backend "$BASE/bench?sslmode=disable" --jobs 100000 --bulk --concurrency 50 --fetch-cooldown 2ms --json
