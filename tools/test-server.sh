#!/usr/bin/env bash
# Integration test of maas-server: starts it on free loopback ports with the
# fixture models and drives it with curl (and with the official `openai`
# Python client when that package is installed).  Run from the repository
# root after `make all fixtures`:
#
#   bash tools/test-server.sh
#
# Uses only 127.0.0.1.  Prints one line per check and exits non-zero when
# any check fails.
set -u

BIN=${BUILD:-build}/bin
FIXTURES=${FIXTURES:-${BUILD:-build}/fixtures}
PYTHON=${PYTHON:-python3}
GPT2=$FIXTURES/gpt2-tiny.maas
BERT=$FIXTURES/bert-tiny.maas
BERT_QA=$FIXTURES/bert-qa-tiny.maas

for f in "$BIN/maas-server" "$BIN/maas-generate" "$BIN/maas-chat" "$BIN/maas-embed" "$BIN/maas-qa" "$GPT2" "$BERT" "$BERT_QA"; do
    if [ ! -e "$f" ]; then
        echo "test-server: $f is missing; run 'make all fixtures' first" >&2
        exit 1
    fi
done
for tool in curl jq; do
    if ! command -v $tool >/dev/null; then
        echo "test-server: $tool is not installed (apt-get install $tool)" >&2
        exit 1
    fi
done

WORK=$(mktemp -d)
PIDS=()
passed=0
failed=0

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

pass() {
    passed=$((passed + 1))
    echo "ok    $1"
}

fail() {
    failed=$((failed + 1))
    echo "FAIL  $1: $2"
}

# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" == "$3" ]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}

# start_server NAME MODEL [OPTIONS...]: starts a server on a free port and
# sets PORT and PID; its stderr goes to $WORK/NAME.log.
start_server() {
    local name=$1 model=$2
    shift 2
    "$BIN/maas-server" -m "$model" --port 0 "$@" 2>"$WORK/$name.log" &
    PID=$!
    PIDS+=("$PID")
    PORT=
    for _ in $(seq 100); do
        PORT=$(sed -n 's|.* on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$WORK/$name.log")
        [ -n "$PORT" ] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "test-server: the $name server did not start:" >&2
    cat "$WORK/$name.log" >&2
    exit 1
}

# post PATH JSON [CURL OPTIONS...]: prints the body, then the status on the last line.
post() {
    local path=$1 body=$2
    shift 2
    curl -s -m 60 "http://127.0.0.1:$PORT$path" -H 'Content-Type: application/json' \
        --data-binary "$body" -w '\n%{http_code}' "$@"
}

status_of() { tail -n1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }

# ---------------------------------------------------------------------------
echo "== GPT-2 server"
start_server gpt2 "$GPT2" --parallel 2 --queue 4 --timeout 2
GPT2_PORT=$PORT GPT2_PID=$PID

r=$(curl -s "http://127.0.0.1:$PORT/health" -w '\n%{http_code}')
check "health status" 200 "$(status_of "$r")"
check "health body" ok "$(body_of "$r" | jq -r .status)"

r=$(curl -s "http://127.0.0.1:$PORT/v1/models" -w '\n%{http_code}')
check "models lists the file's name" gpt2-tiny "$(body_of "$r" | jq -r '.data[0].id')"
check "models object" list "$(body_of "$r" | jq -r .object)"

# Greedy completion equals maas-generate's output for the same prompt.
PROMPT="The quick brown fox"
r=$(post /v1/completions "{\"model\":\"gpt2-tiny\",\"prompt\":\"$PROMPT\",\"max_tokens\":12,\"temperature\":0}")
check "completion status" 200 "$(status_of "$r")"
server_text=$(body_of "$r" | jq -j '.choices[0].text')
generate_text=$("$BIN/maas-generate" -m "$GPT2" -p "$PROMPT" -n 12 --temp 0 2>/dev/null)
check "greedy completion equals maas-generate" "$generate_text" "$server_text"
check "completion usage total" \
    "$(body_of "$r" | jq '.usage.prompt_tokens + .usage.completion_tokens')" \
    "$(body_of "$r" | jq .usage.total_tokens)"
check "completion object" text_completion "$(body_of "$r" | jq -r .object)"

# Streamed and whole results agree for the same seed (sampling on).
REQ='{"prompt":"Once upon a time","max_tokens":20,"temperature":1.0,"top_k":40,"seed":1234'
whole=$(post /v1/completions "$REQ}" | sed '$d' | jq -j '.choices[0].text')
stream=$(curl -sN -m 60 "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: application/json' \
    -d "$REQ,\"stream\":true}")
streamed=$(sed -n 's/^data: //p' <<<"$stream" | grep -v '^\[DONE\]$' | jq -j '.choices[0].text')
check "streamed text equals whole text" "$whole" "$streamed"
check "stream ends with [DONE]" "data: [DONE]" "$(grep -v '^$' <<<"$stream" | tail -n1)"
again=$(post /v1/completions "$REQ}" | sed '$d' | jq -j '.choices[0].text')
check "same seed gives same text" "$whole" "$again"

# Stop strings cut the text before the match.
full=$(post /v1/completions '{"prompt":"Hello","max_tokens":16,"temperature":0}' | sed '$d' | jq -j '.choices[0].text')
stop=${full:3:2}
r=$(post /v1/completions "$(jq -nc --arg s "$stop" '{prompt:"Hello",max_tokens:16,temperature:0,stop:[$s]}')")
cut_text=$(body_of "$r" | jq -j '.choices[0].text')
check "stop string cuts the text" "${full%%"$stop"*}" "$cut_text"
check "stop string finish reason" stop "$(body_of "$r" | jq -r '.choices[0].finish_reason')"

# A list of prompts gives one choice each.
r=$(post /v1/completions '{"prompt":["a","b","c"],"max_tokens":2,"temperature":0}')
check "prompt list gives three choices" 3 "$(body_of "$r" | jq '.choices | length')"

# Chat through the template, whole and streamed.
CHAT='{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":10,"temperature":0'
r=$(post /v1/chat/completions "$CHAT}")
check "chat status" 200 "$(status_of "$r")"
check "chat role" assistant "$(body_of "$r" | jq -r '.choices[0].message.role')"
chat_whole=$(body_of "$r" | jq -j '.choices[0].message.content')
chat_cli=$(printf 'Hi' | "$BIN/maas-chat" -m "$GPT2" --system "Be brief." --temp 0 \
    --repeat-penalty 1 -n 10 2>/dev/null)
check "chat reply equals maas-chat (same template)" "$chat_cli" "$chat_whole"
chat_stream=$(curl -sN -m 60 "http://127.0.0.1:$PORT/v1/chat/completions" -H 'Content-Type: application/json' \
    -d "$CHAT,\"stream\":true}" | sed -n 's/^data: //p' | grep -v '^\[DONE\]$' |
    jq -j '.choices[0].delta.content // ""')
check "chat streamed equals whole" "$chat_whole" "$chat_stream"

# Errors: each with OpenAI's error object and the right status.
expect_error() {  # NAME STATUS RESPONSE
    check "$1: status" "$2" "$(status_of "$3")"
    local type
    type=$(body_of "$3" | jq -r '.error.type' 2>/dev/null)
    if [ -n "$type" ] && [ "$type" != null ]; then pass "$1: error object"; else fail "$1: error object" "no error.type in: $(body_of "$3" | head -c 200)"; fi
}
expect_error "malformed JSON" 400 "$(post /v1/completions '{"prompt": "x",')"
expect_error "body not an object" 400 "$(post /v1/completions '["x"]')"
expect_error "empty body" 400 "$(post /v1/completions '')"
expect_error "wrong content type" 415 "$(curl -s "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: text/plain' -d '{"prompt":"x"}' -w '\n%{http_code}')"
expect_error "form content type" 415 "$(curl -s "http://127.0.0.1:$PORT/v1/completions" -d '{"prompt":"x"}' -w '\n%{http_code}')"
expect_error "invalid UTF-8" 400 "$(printf '{"prompt": "\xc3\x28"}' | curl -s "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: application/json' --data-binary @- -w '\n%{http_code}')"
expect_error "lone surrogate escape" 400 "$(post /v1/completions '{"prompt": "\ud800"}')"
expect_error "NUL byte in body" 400 "$(printf '{"prompt": "x"}\0' | curl -s "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: application/json' --data-binary @- -w '\n%{http_code}')"
head -c 2000000 /dev/zero | tr '\0' ' ' >"$WORK/huge.json"
expect_error "huge body" 413 "$(curl -s "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: application/json' --data-binary @"$WORK/huge.json" -w '\n%{http_code}')"
expect_error "huge chunked body" 413 "$(curl -s "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/huge.json" -w '\n%{http_code}')"
expect_error "missing prompt" 400 "$(post /v1/completions '{"max_tokens": 3}')"
expect_error "negative max_tokens" 400 "$(post /v1/completions '{"prompt":"x","max_tokens":-5}')"
expect_error "absurd max_tokens" 400 "$(post /v1/completions '{"prompt":"x","max_tokens":1e300}')"
expect_error "fractional max_tokens" 400 "$(post /v1/completions '{"prompt":"x","max_tokens":2.5}')"
expect_error "string temperature" 400 "$(post /v1/completions '{"prompt":"x","temperature":"hot"}')"
expect_error "temperature above 2" 400 "$(post /v1/completions '{"prompt":"x","temperature":9}')"
expect_error "negative top_p" 400 "$(post /v1/completions '{"prompt":"x","top_p":-0.5}')"
expect_error "negative top_k" 400 "$(post /v1/completions '{"prompt":"x","top_k":-1}')"
expect_error "five stop strings" 400 "$(post /v1/completions '{"prompt":"x","stop":["a","b","c","d","e"]}')"
expect_error "stream not a bool" 400 "$(post /v1/completions '{"prompt":"x","stream":"yes"}')"
r=$(post /v1/completions '{"prompt":"x","n":2}')
expect_error "n above 1" 400 "$r"
check "n above 1 names n" n "$(body_of "$r" | jq -r .error.param)"
long_prompt=$(printf 'word %.0s' $(seq 2000))
r=$(post /v1/completions "{\"prompt\":\"$long_prompt\",\"max_tokens\":4}")
expect_error "prompt past the context" 400 "$r"
check "prompt past the context code" context_length_exceeded "$(body_of "$r" | jq -r .error.code)"
expect_error "unknown path" 404 "$(curl -s "http://127.0.0.1:$PORT/v1/nothing" -w '\n%{http_code}')"
expect_error "wrong method" 405 "$(curl -s -X DELETE "http://127.0.0.1:$PORT/v1/completions" -w '\n%{http_code}')"
expect_error "embeddings on GPT-2" 400 "$(post /v1/embeddings '{"input":"x"}')"
expect_error "qa on GPT-2" 400 "$(post /v1/qa '{"question":"a","context":"b"}')"
r=$(post /v1/completions '{"prompt":"x","max_tokens":2,"unknown_field":{"a":[1,2]},"user":"u1"}')
check "unknown fields ignored" 200 "$(status_of "$r")"

# Slowloris: connections that send part of a request hold no slot; other
# clients are served meanwhile, and the server closes them after --timeout.
slow_fds=()
for i in $(seq 8); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    if [ $((i % 2)) -eq 0 ]; then
        printf 'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: appl' >&"$fd"
    else
        printf 'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt":' >&"$fd"
    fi
    slow_fds+=("$fd")
done
r=$(post /v1/completions '{"prompt":"x","max_tokens":2,"temperature":0}' -m 5)
check "served beside slow clients" 200 "$(status_of "$r")"
r=$(curl -s -m 5 "http://127.0.0.1:$PORT/health" -w '\n%{http_code}')
check "health beside slow clients" 200 "$(status_of "$r")"
closed=0
for fd in "${slow_fds[@]}"; do
    # The server closes an idle connection after 2 s: read returns at EOF.
    if timeout 6 cat <&"$fd" >/dev/null 2>&1; then closed=$((closed + 1)); fi
    exec {fd}<&-
done
check "slow connections closed by the server" 8 "$closed"

grep -qE '^[0-9TZ:-]+ POST /v1/completions 200 tokens=[0-9]+ ms=[0-9.]+$' "$WORK/gpt2.log" &&
    pass "access log line" || fail "access log line" "no line like 'TIME POST /v1/completions 200 tokens=N ms=M'"


# ---------------------------------------------------------------------------
# One slot, one waiting place, and 20 ms per token, so a request of 90
# tokens holds the slot for about 1.8 s: long enough to queue behind.
echo "== slot, queue, disconnect and stop"
start_server slow "$GPT2" --parallel 1 --queue 1 --token-delay 20
SLOW='"prompt":"x","temperature":0,"ignore_eos":true'

# wait_for COMMAND...: true once the command succeeds, false after 15 s
# (generous, because a loaded machine can delay the server's log line).
wait_for() {
    for _ in $(seq 150); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
slots_busy() { [ "$(curl -s "http://127.0.0.1:$PORT/health" | jq .slots_busy)" == "$1" ]; }

# A client that leaves mid-stream frees its slot at once.  The request
# would take 90 x 20 ms; the client leaves after the first event, and the
# log must show that the request ended early: client-closed when the server
# noticed the disconnect first, write-failed when a send to the gone client
# failed first (which one wins depends on timing).
curl -sN "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: application/json' \
    -d "{$SLOW,\"max_tokens\":90,\"stream\":true}" >"$WORK/partial.out" 2>/dev/null &
client=$!
wait_for grep -q '^data: ' "$WORK/partial.out" && pass "stream started" || fail "stream started" "no event"
kill "$client"
wait "$client" 2>/dev/null
if wait_for grep -Eq 'POST /v1/completions 200 .* (client-closed|write-failed)$' "$WORK/slow.log"; then
    pass "disconnect logged"
    tokens=$(sed -En 's/.* 200 tokens=([0-9]*) .*(client-closed|write-failed)$/\1/p' "$WORK/slow.log" | head -n1)
    [ "$tokens" -lt 90 ] && pass "stream ended early ($tokens tokens)" ||
        fail "stream ended early" "$tokens tokens"
else
    fail "disconnect logged" "no client-closed line in: $(cat "$WORK/slow.log")"
fi
check "slot freed after disconnect" 0 "$(curl -s "http://127.0.0.1:$PORT/health" | jq .slots_busy)"

# The same for a client waiting for a whole response.
curl -s "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: application/json' \
    -d "{$SLOW,\"max_tokens\":90}" >/dev/null 2>&1 &
client=$!
wait_for slots_busy 1 && pass "whole request running" || fail "whole request running" "no busy slot"
kill "$client"
wait "$client" 2>/dev/null
wait_for grep -q 'POST /v1/completions 499 .* client-closed$' "$WORK/slow.log" &&
    pass "whole request ended by the disconnect" ||
    fail "whole request ended by the disconnect" "no 499 line in: $(cat "$WORK/slow.log")"
check "slot freed after disconnect, not streamed" 0 "$(curl -s "http://127.0.0.1:$PORT/health" | jq .slots_busy)"

# One request runs, one waits in the queue, and the next ones get 503.
queued() { [ "$(curl -s "http://127.0.0.1:$PORT/health" | jq .queued)" == "$1" ]; }
post /v1/completions "{$SLOW,\"max_tokens\":90}" >"$WORK/running.out" &
running=$!
wait_for slots_busy 1
post /v1/completions "{$SLOW,\"max_tokens\":10}" >"$WORK/waiting.out" &
waiting=$!
wait_for queued 1 && pass "queue: second request waits" || fail "queue: second request waits" "not queued"
for i in 1 2 3; do
    curl -s -o /dev/null -D "$WORK/busy$i.headers" -w '%{http_code}' \
        "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: application/json' \
        -d "{$SLOW,\"max_tokens\":1}" >"$WORK/busy$i.status"
    check "queue: request $i past the queue" 503 "$(cat "$WORK/busy$i.status")"
    grep -qi '^Retry-After: 1' "$WORK/busy$i.headers" && pass "queue: Retry-After on 503 $i" ||
        fail "queue: Retry-After on 503 $i" "missing"
done
wait "$running" "$waiting"
check "queue: running request served" 200 "$(tail -n1 "$WORK/running.out")"
check "queue: waiting request served" 200 "$(tail -n1 "$WORK/waiting.out")"

# SIGTERM: exit status 0 within a few seconds, after finishing the request
# in flight.
post /v1/completions "{$SLOW,\"max_tokens\":40}" >"$WORK/inflight.out" &
client=$!
wait_for slots_busy 1
start=$(date +%s%N)
kill -TERM "$PID"
wait "$PID"
code=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
wait "$client"
check "SIGTERM exit status" 0 "$code"
[ "$elapsed_ms" -lt 5000 ] && pass "SIGTERM stops within 5 s ($elapsed_ms ms)" ||
    fail "SIGTERM stops within 5 s" "took $elapsed_ms ms"
check "in-flight request finished" 200 "$(tail -n1 "$WORK/inflight.out")"

# ---------------------------------------------------------------------------
echo "== API key"
start_server key "$GPT2" --api-key test-key
r=$(curl -s "http://127.0.0.1:$PORT/v1/models" -w '\n%{http_code}')
expect_error "no key" 401 "$r"
r=$(curl -s "http://127.0.0.1:$PORT/v1/models" -H 'Authorization: Bearer wrong' -w '\n%{http_code}')
expect_error "wrong key" 401 "$r"
r=$(post /v1/completions '{"prompt":"x","max_tokens":1}' -H 'Authorization: Bearer test-key')
check "right key" 200 "$(status_of "$r")"
r=$(curl -s "http://127.0.0.1:$PORT/health" -w '\n%{http_code}')
check "health needs no key" 200 "$(status_of "$r")"
KEY_PORT=$PORT KEY_PID=$PID

# ---------------------------------------------------------------------------
echo "== BERT embeddings"
start_server bert "$BERT"
BERT_PORT=$PORT
r=$(post /v1/embeddings '{"model":"bert-tiny","input":["hello world","a second text"]}')
check "embeddings status" 200 "$(status_of "$r")"
check "embeddings count" 2 "$(body_of "$r" | jq '.data | length')"
dim=$(body_of "$r" | jq '.data[0].embedding | length')
[ "$dim" -gt 0 ] && pass "embedding length $dim" || fail "embedding length" "$dim"
check "embeddings index" 1 "$(body_of "$r" | jq '.data[1].index')"
[ "$(body_of "$r" | jq '.usage.prompt_tokens')" -gt 4 ] && pass "embeddings usage" || fail "embeddings usage" "$(body_of "$r" | jq -c .usage)"
single=$(post /v1/embeddings '{"input":"hello world"}' | sed '$d' | jq -c '.data[0].embedding')
check "same text, same vector alone or in a list" "$(body_of "$r" | jq -c '.data[0].embedding')" "$single"
# The server's vector equals maas-embed's for the same text.
"$BIN/maas-embed" -m "$BERT" --json "hello world" 2>/dev/null | jq -c '.data[0].embedding' >"$WORK/embed_cli.json"
worst=$(jq -n --slurpfile a "$WORK/embed_cli.json" --argjson b "$single" \
    '[range(0; $b | length) as $i | ($a[0][$i] - $b[$i]) | fabs] | max')
jq -e -n --argjson w "${worst:-1}" '$w <= 1e-6' >/dev/null &&
    pass "embedding equals maas-embed (max diff $worst)" ||
    fail "embedding equals maas-embed" "max diff ${worst:-none}"
b64=$(post /v1/embeddings '{"input":"hello world","encoding_format":"base64"}' | sed '$d' | jq -r '.data[0].embedding')
decoded=$(base64 -d <<<"$b64" | od -An -v -t f4 | wc -w)
check "base64 embedding has the same length" "$dim" "$decoded"
expect_error "embeddings without input" 400 "$(post /v1/embeddings '{"model":"x"}')"
expect_error "embeddings input of numbers" 400 "$(post /v1/embeddings '{"input":[1,2,3]}')"
expect_error "embeddings bad format" 400 "$(post /v1/embeddings '{"input":"x","encoding_format":"hex"}')"
long_text=$(printf 'word %.0s' $(seq 3000))
expect_error "embedding input past the context" 400 "$(post /v1/embeddings "{\"input\":\"$long_text\"}")"
expect_error "completions on BERT" 400 "$(post /v1/completions '{"prompt":"x"}')"
BERT_PID=$PID

# ---------------------------------------------------------------------------
echo "== BERT question answering"
start_server qa "$BERT_QA"
CONTEXT="The Eiffel Tower is in Paris. It was finished in 1889."
r=$(post /v1/qa "$(jq -nc --arg c "$CONTEXT" '{question:"Where is the tower?",context:$c,top_k:3}')")
check "qa status" 200 "$(status_of "$r")"
n=$(body_of "$r" | jq '.answers | length')
[ "$n" -ge 1 ] && [ "$n" -le 3 ] && pass "qa answers ($n)" || fail "qa answers" "$n"
# Each answer's text is the context between its character offsets.
spans_ok=$(body_of "$r" | jq --arg c "$CONTEXT" '[.answers[] | .text == ($c[.start:.end])] | all')
check "qa text matches offsets" true "$spans_ok"
sorted=$(body_of "$r" | jq '[.answers[].score] | . == (sort | reverse)')
check "qa best first" true "$sorted"
# The same answers as maas-qa.
printf '%s' "$CONTEXT" >"$WORK/context.txt"
cli=$("$BIN/maas-qa" -m "$BERT_QA" -c "$WORK/context.txt" -q "Where is the tower?" -k 3 --json 2>/dev/null |
    jq -c '[.answers[] | {text: .answer, start, end, score: (.score * 1e6 | round)}]')
srv=$(body_of "$r" | jq -c '[.answers[] | {text, start, end, score: (.score * 1e6 | round)}]')
check "qa answers equal maas-qa" "$cli" "$srv"
expect_error "qa without context" 400 "$(post /v1/qa '{"question":"a"}')"
expect_error "qa top_k 0" 400 "$(post /v1/qa '{"question":"a","context":"b","top_k":0}')"
kill -TERM "$PID"; wait "$PID"

# ---------------------------------------------------------------------------
# The openai Python client against the servers still running, when installed.
echo "== openai client"
if "$PYTHON" -c 'import openai' 2>/dev/null; then
    if "$PYTHON" tools/test_server_openai.py --gpt2 "http://127.0.0.1:$GPT2_PORT/v1" \
        --generate "$BIN/maas-generate" --gpt2-model "$GPT2" \
        --bert "http://127.0.0.1:$BERT_PORT/v1" \
        --keyed "http://127.0.0.1:$KEY_PORT/v1" --key test-key; then
        pass "openai client"
    else
        fail "openai client" "see the output above"
    fi
else
    echo "skip  openai client checks: '$PYTHON -c \"import openai\"' failed (pip install openai)"
fi

for server in "gpt2 $GPT2_PID" "key $KEY_PID" "bert $BERT_PID"; do
    set -- $server
    kill -TERM "$2"
    wait "$2"
    check "$1 server exits 0 on SIGTERM" 0 $?
done

echo
echo "server checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
