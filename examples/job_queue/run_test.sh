#!/usr/bin/env bash
# The job queue as a test: a server with 600 jobs and eight workers, four over TCP and four over a
# Unix domain socket; one worker is killed (SIGKILL) and one frozen (SIGSTOP) in the middle of a
# job. Once 300 jobs are done and both jobs were re-queued, SIGINT stops the server, which drains
# and must account for every job: done exactly once, or still waiting.
#
#   run_test.sh SERVER WORKER
set -euo pipefail
server=$1 worker=$2
dir=$(mktemp -d)
workers=()
cleanup() {
    kill -KILL "${workers[@]}" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

coproc SERVER { exec "$server" 600 "$dir/jobs.sock" 2000; }
server_pid=$SERVER_PID
# Our own copy of its output: bash unsets SERVER as soon as the server exits, lines still unread.
exec {server_out}<&"${SERVER[0]}"
read -r -t 30 -u "$server_out" tcp
read -r -t 30 -u "$server_out" uds
for i in 1 2 3 4 5 6 7 8; do
    address=$([ "$i" -le 4 ] && echo "$tcp" || echo "$uds")
    case $i in
        1) "$worker" "$address" --die-at 3 & ;;
        5) "$worker" "$address" --freeze-at 2 & ;;
        *) "$worker" "$address" & ;;
    esac
    workers+=($!)
done

died=0 froze=0 finished=0
while read -r -t 120 -u "$server_out" line; do
    echo "server: $line"
    case $line in
        *"left: job"*"requeued") died=1 ;;
        *"was cut off: job"*"requeued") froze=1 ;;
        "done "*) finished=${line#done } ;;
    esac
    if [ "$died" = 1 ] && [ "$froze" = 1 ] && [ "$finished" -ge 300 ]; then
        break
    fi
done
[ "$died" = 1 ] && [ "$froze" = 1 ] || { echo "FAIL: no re-queue seen (died=$died froze=$froze)"; exit 1; }

kill -INT "$server_pid"
summary=
while read -r -t 120 -u "$server_out" line; do
    echo "server: $line"
    case $line in "jobs "*) summary=$line ;; esac
done
status=0
wait "$server_pid" || status=$?
[ -n "$summary" ] || { echo "FAIL: no summary"; exit 1; }
[ "$status" = 0 ] || { echo "FAIL: the server exited $status"; exit 1; }
echo "PASS: $summary"
