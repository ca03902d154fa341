#!/usr/bin/env bash
# Load comparison on loopback: hsgate vs nginx as a plain reverse proxy vs the
# upstream itself ("direct"), all in front of / being one nginx TLS upstream
# that answers a fixed CallRecordInfo. See bench/README.md.
#
#   bash bench/load.sh                      # from the repo root
#   ROUNDS=5 DURATION=10 bash bench/load.sh # longer
#
# Everything it writes goes to a temp dir (removed at the end unless
# KEEP_TMP=1 or the run failed); every process it starts is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"

# ---- settings (environment) -------------------------------------------------
ROUNDS=${ROUNDS:-3}                  # interleaved rounds per load level
DURATION=${DURATION:-5}              # seconds per wrk run
WARMUP=${WARMUP:-2}                  # seconds of unrecorded load per target at start
SETTLE=${SETTLE:-0.3}                # pause between runs (s)
LEVELS=${LEVELS:-"64:2 1:1 256:2"}   # connections:wrk-threads, in this order
TARGETS=${TARGETS:-"direct nginx hsgate"}
FRESH_TOKENS=${FRESH_TOKENS:-1}      # 1: also a fresh-token pass on hsgate
FRESH_LEVEL=${FRESH_LEVEL:-64:2}
FRESH_ROUNDS=${FRESH_ROUNDS:-$ROUNDS}
FRESH_TOKEN_COUNT=${FRESH_TOKEN_COUNT:-auto}  # auto: enough that no token repeats
NGINX_KEEPALIVE=${NGINX_KEEPALIVE:-64}        # nginx upstream `keepalive` pool
UPSTREAM_HTTP2=${UPSTREAM_HTTP2:-1}  # 1: the upstream offers h2 beside HTTP/1.1 (as IIS does); 0: HTTP/1.1 only
WRK_TIMEOUT=${WRK_TIMEOUT:-5s}
BUILD=${BUILD:-auto}                 # auto (if missing or older than src), always, never
KEEP_TMP=${KEEP_TMP:-0}
HSGATE_BIN=${HSGATE_BIN:-$ROOT/target/release/hsgate}
GW_LOG_LEVEL=${GW_LOG_LEVEL:-info}   # info: hsgate logs one line per request; warn: only problems
GW_WORKERS=${GW_WORKERS:-1}          # hsgate's worker threads: 1, as nginx runs `worker_processes 1`

ISS="https://idp.bench.invalid"
AUD="hsgate-bench"
SUB="svc-bench"

say() { printf '%s\n' "$*" >&2; }
die() { say "load.sh: $*"; exit 1; }

case $UPSTREAM_HTTP2 in 0 | 1) ;; *) die "UPSTREAM_HTTP2 must be 0 or 1, not '$UPSTREAM_HTTP2'" ;; esac

for tool in nginx wrk openssl python3 curl; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
NGINX=$(command -v nginx)
WRK=$(command -v wrk)
CLK_TCK=$(getconf CLK_TCK)

# ---- temp dir and cleanup ---------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hsgate-bench.XXXXXX")
chmod 711 "$TMP"   # nginx workers (nobody) may need to reach their temp dirs
PIDS=()            # every long-running process this script started
WRK_PID=""
OK=0

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n "$WRK_PID" ]] && stop_pid "$WRK_PID"
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    if [[ "$KEEP_TMP" == 1 || "$OK" != 1 ]]; then
        say "load.sh: temp dir kept: $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- binary -----------------------------------------------------------------
STALE=""
need_build=0
if [[ ! -x "$HSGATE_BIN" || "$BUILD" == always ]]; then
    need_build=1
elif [[ "$BUILD" == auto ]] && [[ -n "$(cd "$ROOT" && find src Cargo.toml Cargo.lock -newer "$HSGATE_BIN" -print -quit 2>/dev/null)" ]]; then
    need_build=1
fi
if [[ $need_build == 1 ]]; then
    say "building: cargo build --release (log: $TMP/build.log)"
    if ! (cd "$ROOT" && cargo build --release) >"$TMP/build.log" 2>&1; then
        tail -20 "$TMP/build.log" >&2
        [[ -x "$HSGATE_BIN" ]] || die "build failed and there is no binary"
        STALE="build failed: measuring the existing, older binary"
        say "WARNING: $STALE"
    fi
fi
# Measure a private copy: another build may replace target/release/hsgate meanwhile.
cp "$HSGATE_BIN" "$TMP/hsgate"
HSGATE="$TMP/hsgate"

# ---- helpers ----------------------------------------------------------------
free_ports() { # N -> N distinct free loopback ports
    python3 -c 'import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

render() { # TEMPLATE OUT KEY=VALUE... (VALUE "<FILE" inserts FILE's text)
    python3 - "$@" <<'PY'
import re, sys
src, dst, *pairs = sys.argv[1:]
text = open(src).read()
for pair in pairs:
    key, value = pair.split("=", 1)
    if value.startswith("<"):
        value = open(value[1:]).read().strip()
    text = text.replace("@" + key + "@", value)
left = re.findall(r"@[A-Z_]+@", text)
if left:
    sys.exit(f"{src}: unreplaced placeholders {sorted(set(left))}")
open(dst, "w").write(text)
PY
}

cpu_ticks() { # PID -> utime+stime of the whole process (all threads), clock ticks
    local s
    s=$(<"/proc/$1/stat")
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    echo $((${12} + ${13}))
}

worker_of() { # nginx master PID -> its (single) worker PID
    local master=$1 w i
    for i in $(seq 100); do
        w=$(pgrep -P "$master" | head -1 || true)
        [[ -n "$w" ]] && { echo "$w"; return 0; }
        sleep 0.05
    done
    die "no worker under nginx master $master (see $TMP/*/error.log)"
}

up_status() { # -> "accepts requests" of the upstream nginx (stub_status)
    curl -sf "http://127.0.0.1:$UP_STATUS_PORT/status" | awk 'NR==3 {print $1, $3}'
}

gw_metric() { # NAME -> value (0 if absent)
    curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v n="$1" '$1 == n {v=$2} END {print v+0}'
}

wait_http() { # URL [curl args...] -> waits up to 10 s for any HTTP answer
    local url=$1 i
    shift
    for i in $(seq 100); do
        curl -s -o /dev/null "$@" "$url" && return 0
        sleep 0.1
    done
    return 1
}

# ---- keys and certificates --------------------------------------------------
say "temp dir: $TMP"
cd "$TMP"
{
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout ca.key -out ca.pem -days 2 -subj "/CN=hsgate bench CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout up.key -out up.csr -subj "/CN=localhost"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >up.ext
    openssl x509 -req -in up.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
        -out up.pem -days 2 -extfile up.ext
    # JWT signing key: PKCS#8 private (hsgate token), SPKI public (config).
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out jwt.key
    openssl pkey -in jwt.key -pubout -out jwt.pub.pem
    openssl rand -hex 16 >hs-password.txt
} >"$TMP/openssl.log" 2>&1 || { cat "$TMP/openssl.log" >&2; die "openssl failed"; }
chmod 600 ca.key up.key jwt.key hs-password.txt

read -r UP_PORT UP_STATUS_PORT PROXY_PORT GW_PORT ADMIN_PORT <<<"$(free_ports 5)"

# ---- upstream nginx (TLS, fixed answer) -------------------------------------
mkdir -p nginx-up nginx-proxy
chmod 755 nginx-up nginx-proxy
render "$BENCH/nginx-upstream.conf.in" nginx-up/nginx.conf \
    DIR="$TMP/nginx-up" PORT="$UP_PORT" STATUS_PORT="$UP_STATUS_PORT" \
    CERT="$TMP/up.pem" KEY="$TMP/up.key" BODY="<$BENCH/call_record.json" \
    LISTEN_PARAMS="$([ "$UPSTREAM_HTTP2" = 1 ] && echo "ssl http2" || echo ssl)"
"$NGINX" -p "$TMP/nginx-up" -c "$TMP/nginx-up/nginx.conf" -e "$TMP/nginx-up/error.log" -t \
    >"$TMP/nginx-up/test.log" 2>&1 || { cat "$TMP/nginx-up/test.log" >&2; die "upstream nginx config"; }
"$NGINX" -p "$TMP/nginx-up" -c "$TMP/nginx-up/nginx.conf" -e "$TMP/nginx-up/error.log" &
UP_MASTER=$!
PIDS+=("$UP_MASTER")

# ---- nginx reverse proxy -----------------------------------------------------
render "$BENCH/nginx-proxy.conf.in" nginx-proxy/nginx.conf \
    DIR="$TMP/nginx-proxy" PORT="$PROXY_PORT" UP_PORT="$UP_PORT" CA="$TMP/ca.pem" \
    KEEPALIVE="$NGINX_KEEPALIVE"
"$NGINX" -p "$TMP/nginx-proxy" -c "$TMP/nginx-proxy/nginx.conf" -e "$TMP/nginx-proxy/error.log" -t \
    >"$TMP/nginx-proxy/test.log" 2>&1 || { cat "$TMP/nginx-proxy/test.log" >&2; die "proxy nginx config"; }
"$NGINX" -p "$TMP/nginx-proxy" -c "$TMP/nginx-proxy/nginx.conf" -e "$TMP/nginx-proxy/error.log" &
PROXY_MASTER=$!
PIDS+=("$PROXY_MASTER")

# ---- hsgate -------------------------------------------------------------------
render "$BENCH/hsgate.toml.in" hsgate.toml \
    PORT="$GW_PORT" ADMIN_PORT="$ADMIN_PORT" UP_PORT="$UP_PORT" ISS="$ISS" AUD="$AUD" SUB="$SUB"
mkdir -p "$TMP/audit" "$TMP/logs"   # both outside the watched config folder
"$HSGATE" check --config "$TMP/hsgate.toml" >"$TMP/hsgate-check.log" 2>&1 \
    || { cat "$TMP/hsgate-check.log" >&2; die "hsgate check failed"; }
"$HSGATE" serve --config "$TMP/hsgate.toml" --log-level "$GW_LOG_LEVEL" --worker-threads "$GW_WORKERS" >"$TMP/logs/hsgate.stdout" 2>"$TMP/logs/hsgate.log" &
GW_PID=$!
PIDS+=("$GW_PID")

TOKEN=$("$HSGATE" token --key "$TMP/jwt.key" --alg ES256 --kid bench \
    --iss "$ISS" --aud "$AUD" --sub "$SUB" --ttl 1h)

# ---- readiness and one correct answer from each target ----------------------
BODY='{"Id":"call-1001","Notes":"Called back, moved to Tue 10:30"}'
wait_http "http://127.0.0.1:$UP_STATUS_PORT/status" || die "upstream nginx did not start"
wait_http "http://127.0.0.1:$PROXY_PORT/" || die "proxy nginx did not start"
for i in $(seq 100); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")" == 200 ]] && break
    kill -0 "$GW_PID" 2>/dev/null || { cat "$TMP/logs/hsgate.log" >&2; die "hsgate exited"; }
    [[ $i == 100 ]] && { cat "$TMP/logs/hsgate.log" >&2; die "hsgate /readyz not 200 after 10 s"; }
    sleep 0.1
done
UP_WORKER=$(worker_of "$UP_MASTER")
PROXY_WORKER=$(worker_of "$PROXY_MASTER")

EXPECTED=$(tr -d '\n' <"$BENCH/call_record.json")
probe() { # NAME URL [curl args...]: expect 200 and the fixed body
    local name=$1 url=$2 out code
    shift 2
    out=$(curl -s -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data-binary "$BODY" "$@" "$url") || die "$name: curl failed"
    code=${out##*$'\n'}
    out=${out%$'\n'*}
    [[ "$code" == 200 ]] || die "$name: HTTP $code: $out"
    [[ "$out" == "$EXPECTED" ]] || die "$name: unexpected body: $out"
}
URL_direct="https://127.0.0.1:$UP_PORT/api/calls/update"
URL_nginx="http://127.0.0.1:$PROXY_PORT/api/calls/update"
URL_hsgate="http://127.0.0.1:$GW_PORT/api/calls/update"
probe direct "https://localhost:$UP_PORT/api/calls/update" --cacert "$TMP/ca.pem"
probe nginx "$URL_nginx"
probe hsgate "$URL_hsgate" -H "Authorization: Bearer $TOKEN"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary "$BODY" "$URL_hsgate")
[[ "$code" == 401 ]] || die "hsgate without a token answered $code, not 401"
# A token from mint_tokens.py must be accepted exactly like `hsgate token`'s.
python3 "$BENCH/mint_tokens.py" "$TMP/jwt.key" 1 "$ISS" "$AUD" "$SUB" bench 3600 "$TMP/probe-token.txt"
probe hsgate-minted "$URL_hsgate" -H "Authorization: Bearer $(cat "$TMP/probe-token.txt")"
: >"$TMP/audit/audit.jsonl"

# ---- runs -------------------------------------------------------------------
RUNS="$TMP/runs.tsv"
printf 'mode\tlevel\tconns\tthreads\ttarget\tround\trequests\tduration_us\tp50_us\tp90_us\tp99_us\tmax_us\terr_connect\terr_read\terr_write\terr_status\terr_timeout\tproxy_ticks\tup_ticks\tup_accepts\tup_requests\taudit_lines\tcache_hits\tcache_misses\n' >"$RUNS"
mkdir -p "$TMP/wrk"
TOKEN_START=0
TOKENS_FILE=""

field() { # NAME LINE -> value of NAME=value in LINE
    local name=$1 line=$2
    line=" $line "
    line=${line#* "$name"=}
    echo "${line%% *}"
}

# run MODE CONNS THREADS TARGET ROUND SECONDS [record]
run() {
    local mode=$1 conns=$2 threads=$3 target=$4 round=$5 secs=$6 record=${7:-record}
    local url_var="URL_$target" out line
    local gw0 gw1 px0 px1 up0 up1 st0 st1 hits0=0 hits1=0 miss0=0 miss1=0
    local tok="" tokfile=""
    if [[ $target == hsgate ]]; then
        if [[ $mode == fresh ]]; then tokfile=$TOKENS_FILE; else tok=$TOKEN; fi
    fi
    out="$TMP/wrk/$mode-$conns-$target-$round.txt"
    if [[ $target == hsgate ]]; then
        hits0=$(gw_metric hsgate_token_cache_hits_total)
        miss0=$(gw_metric hsgate_token_cache_misses_total)
    fi
    st0=$(up_status)
    gw0=$(cpu_ticks "$GW_PID"); px0=$(cpu_ticks "$PROXY_WORKER"); up0=$(cpu_ticks "$UP_WORKER")
    BENCH_TOKEN="$tok" BENCH_TOKENS_FILE="$tokfile" BENCH_TOKEN_START="$TOKEN_START" BENCH_THREADS="$threads" \
        "$WRK" -t"$threads" -c"$conns" -d"${secs}s" --timeout "$WRK_TIMEOUT" --latency \
        -s "$BENCH/post.lua" "${!url_var}" >"$out" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || { WRK_PID=""; cat "$out" >&2; die "wrk failed ($out)"; }
    WRK_PID=""
    gw1=$(cpu_ticks "$GW_PID"); px1=$(cpu_ticks "$PROXY_WORKER"); up1=$(cpu_ticks "$UP_WORKER")
    st1=$(up_status)
    if [[ $target == hsgate ]]; then
        hits1=$(gw_metric hsgate_token_cache_hits_total)
        miss1=$(gw_metric hsgate_token_cache_misses_total)
    fi
    line=$(grep '^BENCH_RESULT ' "$out") || { cat "$out" >&2; die "no BENCH_RESULT in $out"; }
    local audit_lines
    audit_lines=$(wc -l <"$TMP/audit/audit.jsonl")
    : >"$TMP/audit/audit.jsonl"   # the sink appends (O_APPEND): truncating keeps the disk use small
    if [[ $mode == fresh ]]; then
        TOKEN_START=$((TOKEN_START + $(field tokens_span "$line")))
    fi
    local proxy_ticks=0
    case $target in
        hsgate) proxy_ticks=$((gw1 - gw0)) ;;
        nginx) proxy_ticks=$((px1 - px0)) ;;
    esac
    # stub_status counts the status requests themselves: one accept and one request each.
    local acc=$(( ${st1% *} - ${st0% *} - 1 )) reqs=$(( ${st1#* } - ${st0#* } - 1 ))
    [[ $record == record ]] || return 0
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$mode" "${conns}c/${threads}t" "$conns" "$threads" "$target" "$round" \
        "$(field requests "$line")" "$(field duration_us "$line")" \
        "$(field p50_us "$line")" "$(field p90_us "$line")" "$(field p99_us "$line")" "$(field max_us "$line")" \
        "$(field err_connect "$line")" "$(field err_read "$line")" "$(field err_write "$line")" \
        "$(field err_status "$line")" "$(field err_timeout "$line")" \
        "$proxy_ticks" "$((up1 - up0))" "$acc" "$reqs" "$audit_lines" \
        "$((hits1 - hits0))" "$((miss1 - miss0))" >>"$RUNS"
    python3 "$BENCH/report.py" --line "$RUNS" "$CLK_TCK" >&2
    sleep "$SETTLE"
}

read -r -a TARGET_LIST <<<"$TARGETS"
n_levels=$(wc -w <<<"$LEVELS")
n_runs=$((n_levels * ROUNDS * ${#TARGET_LIST[@]}))
[[ $FRESH_TOKENS == 1 ]] && n_runs=$((n_runs + FRESH_ROUNDS))
say "$(date -u '+%F %T') UTC: ${#TARGET_LIST[@]} targets x levels [$LEVELS] x $ROUNDS rounds x ${DURATION}s" \
    "(+ fresh tokens: $FRESH_TOKENS): $n_runs runs, about $(( (n_runs * (DURATION + 1) + (WARMUP + 1) * ${#TARGET_LIST[@]} + 59) / 60 )) min"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

for target in "${TARGET_LIST[@]}"; do
    run warmup 64 2 "$target" 0 "$WARMUP" skip
done

for level in $LEVELS; do
    conns=${level%:*}
    threads=${level#*:}
    for round in $(seq "$ROUNDS"); do
        # Rotate the order each round so no target always runs first.
        n=${#TARGET_LIST[@]}
        for k in $(seq 0 $((n - 1))); do
            run cached "$conns" "$threads" "${TARGET_LIST[$(( (k + round - 1) % n ))]}" "$round" "$DURATION"
        done
    done
done

FRESH_NOTE=""
if [[ $FRESH_TOKENS == 1 ]]; then
    conns=${FRESH_LEVEL%:*}
    threads=${FRESH_LEVEL#*:}
    for round in $(seq "$FRESH_ROUNDS"); do
        count=$FRESH_TOKEN_COUNT
        if [[ $count == auto ]]; then
            # Enough that no token repeats within the run: 1.25 x the cached hsgate
            # rate (an upper bound) for the first round, then 1.5 x the fastest
            # fresh round so far. Minted between runs, never during one.
            if [[ $round == 1 ]]; then
                rate=$(python3 "$BENCH/report.py" --max-rate "$RUNS" hsgate cached "${conns}c/${threads}t")
                factor=1.25
            else
                rate=$(python3 "$BENCH/report.py" --max-rate "$RUNS" hsgate fresh)
                factor=1.5
            fi
            count=$(python3 -c "import math,sys; print(max(5000, math.ceil(float(sys.argv[1]) * $DURATION * $factor)))" "$rate")
        fi
        TOKENS_FILE="$TMP/tokens-$round.txt"
        python3 "$BENCH/mint_tokens.py" "$TMP/jwt.key" "$count" "$ISS" "$AUD" "$SUB" bench 3600 "$TOKENS_FILE"
        TOKEN_START=0
        run fresh "$conns" "$threads" hsgate "$round" "$DURATION"
        say "    (fresh round $round: $count tokens minted, $TOKEN_START taken)"
        if (( TOKEN_START > count )); then
            FRESH_NOTE="fresh round $round wrapped around its tokens ($TOKEN_START taken, $count minted): some were cache hits"
        fi
        rm -f "$TOKENS_FILE"
    done
fi

# ---- peak memory and the table ---------------------------------------------
gw_hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$GW_PID/status")
gw_rss=$(awk '/^VmRSS/ {print $2}' "/proc/$GW_PID/status")
px_hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$PROXY_WORKER/status")
threads_gw=$(awk '/^Threads/ {print $2}' "/proc/$GW_PID/status")
log_warn=$(grep -c '"level":"\(WARN\|ERROR\)"' "$TMP/logs/hsgate.log" || true)
gw_ver=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n "$(cd "$ROOT" && git status --porcelain -- src Cargo.toml 2>/dev/null)" ]] && gw_ver="$gw_ver+uncommitted"

{
    echo "hsgate_build=$gw_ver (binary $(date -u -r "$HSGATE_BIN" '+%F %T') UTC)${STALE:+ [$STALE]}"
    echo "nginx=$("$NGINX" -v 2>&1 | sed 's/.*: //')  wrk=$("$WRK" --version 2>&1 | head -1 | awk '{print $2}')  cores=$(nproc)  loadavg_before=$LOAD_BEFORE  loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "settings=ROUNDS=$ROUNDS DURATION=${DURATION}s LEVELS=\"$LEVELS\" NGINX_KEEPALIVE=$NGINX_KEEPALIVE UPSTREAM_HTTP2=$UPSTREAM_HTTP2 FRESH_LEVEL=$FRESH_LEVEL FRESH_ROUNDS=$FRESH_ROUNDS GW_WORKERS=$GW_WORKERS GW_LOG_LEVEL=$GW_LOG_LEVEL"
    echo "gw_hwm_kb=$gw_hwm"
    echo "gw_rss_kb=$gw_rss"
    echo "gw_threads=$threads_gw"
    echo "proxy_hwm_kb=$px_hwm"
    echo "gw_log_warnings=$log_warn"
    echo "fresh_note=$FRESH_NOTE"
} >"$TMP/meta.txt"

python3 "$BENCH/report.py" --table "$RUNS" "$CLK_TCK" "$TMP/meta.txt"
OK=1
