#!/bin/sh
# Measures the hot reads with wrk, each against a handler that writes the
# same bytes and against --cache off, in alternated rounds of one run:
#
#	sh docs/wrk/run.sh [rounds] [seconds]
#
# Needs wrk (apt-get install wrk). Prints one line per measurement:
# round, read, target, requests/s.
set -eu
rounds=${1:-3}
secs=${2:-5}
dir=$(mktemp -d)
trap 'touch "$dir/stop"; wait; rm -rf "$dir"' EXIT
here=$(cd "$(dirname "$0")" && pwd)
CHECKSTACK_WRK_DIR=$dir go test -count 1 -run '^TestServeWrkTargets$' -timeout 2h ./cmd/checkstack/ >/dev/null &
while [ ! -e "$dir/ready" ]; do sleep 1; done
for round in $(seq "$rounds"); do
	for read in systems bulk unread; do
		for target in cache static nocache; do
			f=$dir/$read.$target
			rps=$(wrk -t2 -c32 -d"${secs}s" -s "$here/post.lua" "$(head -1 "$f")" -- "$f" | awk '/Requests\/sec/ {print $2}')
			echo "$round $read $target $rps"
		done
	done
done
