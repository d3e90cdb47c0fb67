#!/bin/sh
# Counts the instructions a redis-server spends per job on each phase of the Redis store's hot
# paths (single and bulk enqueue, claim, finish; see BenchmarkInstructions in backend/redis):
# the server runs under callgrind on a free port, so the figures repeat to a hundredth of a
# percent whatever else the machine does. Needs valgrind and redis-server (Debian packages).
#
#   scripts/redis-callgrind.sh            # this checkout
#   BASE=<commit> scripts/redis-callgrind.sh   # that commit too (one that has the benchmark)
set -eu
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "redis-server is needed (apt-get install redis-server)" >&2; exit 2; }
DIR=$(mktemp -d)
trap 'kill "$VG" 2>/dev/null; rm -rf "$DIR"' EXIT
VG=
# count <test binary> <label>: runs the phases against a fresh server and prints one line.
count() {
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	rm -f "$DIR"/cg.out*
	valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.out" redis-server --port "$port" --bind 127.0.0.1 \
		--save "" --appendonly no --dir "$DIR" >"$DIR/vg.log" 2>&1 &
	VG=$!
	i=0
	until redis-cli -p "$port" ping >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { cat "$DIR/vg.log" >&2; exit 1; }
		sleep 0.1
	done
	ASYNCMQ_CALLGRIND_URL="redis://127.0.0.1:$port/0" ASYNCMQ_CALLGRIND_PID=$VG \
		"$1" -test.run '^$' -test.bench '^BenchmarkInstructions$' -test.benchtime 1x >"$DIR/bench.log" 2>&1 ||
		{ cat "$DIR/bench.log" >&2; exit 1; }
	redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
	wait "$VG" 2>/dev/null || true
	VG=
	# Dumps 1..4 are the phases, in the order the benchmark prints them.
	printf '%-12s' "$2"
	k=1
	for name in $(sed -n 's/^phase //p' "$DIR/bench.log"); do
		ir=$(sed -n 's/^summary: //p' "$DIR/cg.out.$k")
		awk -v n="$name" -v ir="$ir" 'BEGIN { printf "  %s %6.1fk", n, ir / 2000 / 1000 }'
		k=$((k + 1))
	done
	echo "   instructions/job"
}
go test -c -o "$DIR/now.test" ./backend/redis
if [ -n "${BASE:-}" ]; then
	git worktree add -q --detach "$DIR/base" "$BASE"
	(cd "$DIR/base" && go test -c -o "$DIR/base.test" ./backend/redis)
	git worktree remove --force "$DIR/base"
	count "$DIR/base.test" "$BASE"
fi
count "$DIR/now.test" "this checkout"
