#!/usr/bin/env bash
# Load test of maas-server with wrk (Debian package `wrk`).  It starts the
# server on a free loopback port and sends completion requests for DURATION
# seconds from more connections than there are slots.  It reports requests
# per second, latency, every status seen, and the server's resident memory
# (RSS) and thread count before and after the run.  It fails when a
# response has a status other than 200 and 503 (503 is the documented
# answer past the queue) or a socket error occurs.  Not part of `make test`.
#
#   bash tools/load-test-server.sh [MODEL.maas] [DURATION] [CONNECTIONS]
#
# Environment: PARALLEL (slots, default 2), QUEUE (default 4), MAX_TOKENS
# (per request, default 16), THREADS (per request, default 1).
set -u

MODEL=${1:-build/fixtures/gpt2-tiny.maas}
DURATION=${2:-60}
CONNECTIONS=${3:-8}
PARALLEL=${PARALLEL:-2}
QUEUE=${QUEUE:-4}
MAX_TOKENS=${MAX_TOKENS:-16}
THREADS=${THREADS:-1}
BIN=${BUILD:-build}/bin

command -v wrk >/dev/null || { echo "load-test: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
[ -x "$BIN/maas-server" ] || { echo "load-test: $BIN/maas-server is missing; run make" >&2; exit 1; }

WORK=$(mktemp -d)
cleanup() {
    [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN/maas-server" -m "$MODEL" --port 0 --parallel "$PARALLEL" --queue "$QUEUE" \
    -t "$THREADS" --max-connections $((CONNECTIONS * 2 + 16)) 2>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 100); do
    PORT=$(sed -n 's|.* on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$WORK/server.log")
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "${PORT:-}" ] || { cat "$WORK/server.log" >&2; exit 1; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER/status"; }
threads() { awk '/^Threads:/ {print $2}' "/proc/$SERVER/status"; }

# The request, and per-status counts gathered from every wrk thread.
cat >"$WORK/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"prompt": "The load test sends this prompt", "max_tokens": $MAX_TOKENS, "temperature": 0.8, "seed": 7}'

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {} end
function response(status, headers, body)
    counts[status] = (counts[status] or 0) + 1
end
function done(summary, latency, requests)
    local total = {}
    for _, t in ipairs(threads) do
        for status, n in pairs(t:get("counts")) do
            total[status] = (total[status] or 0) + n
        end
    end
    for status, n in pairs(total) do
        io.write(string.format("status %d: %d\n", status, n))
    end
end
EOF

echo "== warm-up (5 s), then $DURATION s with $CONNECTIONS connections on $PARALLEL slots (queue $QUEUE)"
wrk -t2 -c"$CONNECTIONS" -d5s --timeout 30s -s "$WORK/post.lua" "http://127.0.0.1:$PORT/v1/completions" >/dev/null
rss_before=$(rss_kb)
threads_before=$(threads)
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 30s --latency -s "$WORK/post.lua" \
    "http://127.0.0.1:$PORT/v1/completions" | tee "$WORK/wrk.out"
rss_after=$(rss_kb)
sleep 5
rss_idle=$(rss_kb)
threads_idle=$(threads)

echo "server RSS: ${rss_before} kB after warm-up, ${rss_after} kB after the run, ${rss_idle} kB 5 s later"
echo "server threads: ${threads_before} after warm-up, ${threads_idle} 5 s after the run"
ok=$(sed -n 's/^status 200: //p' "$WORK/wrk.out")
busy=$(sed -n 's/^status 503: //p' "$WORK/wrk.out")
other=$(grep '^status ' "$WORK/wrk.out" | grep -v -e '^status 200:' -e '^status 503:' || true)
errors=$(grep 'Socket errors' "$WORK/wrk.out" || true)
echo "200: ${ok:-0}, 503 (queue full): ${busy:-0}"
if [ -n "$other" ] || [ -n "$errors" ] || [ -z "$ok" ]; then
    echo "load-test: FAILED: unexpected statuses or socket errors: $other $errors"
    exit 1
fi
echo "load-test: passed"
