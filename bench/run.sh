#!/usr/bin/env bash
# bench/run.sh: runs every relay scenario against Tabula's relay and the peers
# (Node ws, Python websockets, Rust fastwebsockets) in one run, and writes the tables into
# BENCHMARKS.md, between its "bench:begin" and "bench:end" markers.
#
# Each relay runs alone, pinned to core 0 (taskset -c 0), and is restarted for
# every scenario so that no scenario inherits another's rooms or memory; the
# load generator, tabula-bench, runs pinned to core 1. Every figure is kept as
# JSON under target/bench/ and rendered by bench/report.py.
#
# Settings (environment):
#   BENCH_DURATION  seconds each load scenario sends for (default 5)
#   BENCH_IDLE      idle connections in the idle scenario (default 10000)
#   BENCH_IDLE_HOLD seconds the idle connections are held, once all are open,
#                   before the relay's memory is read (default 30: Tabula closes
#                   the file of a room quiet for 10 s, which takes a few
#                   seconds for a thousand rooms; 2 measures the rooms still open)
#   BENCH_JOIN_OPS  ops in the room of the join scenario, Tabula only (default
#                   1000000; 0 skips it)
#   BENCH_RELAYS    which relays to run (default "tabula tabula-memory node-ws
#                   python-websockets fastwebsockets"): tabula is the relay as
#                   deployed, keeping every room in SQLite (a fresh data folder
#                   per scenario); tabula-memory is the same relay with --memory
#   BENCH_OUT       the Markdown file to update (default BENCHMARKS.md)
#   BENCH_SCENARIOS which scenarios to run (default all: "fanout-2 fanout-10
#                   fanout-100 room-1000fps rooms-100x10 slow-consumer idle ramp
#                   join"), to measure one change quickly
#   BENCH_TABULA_ARGS extra flags for both Tabula relays (for example
#                   "--group-commit-ms 0"), to compare settings
#   BENCH_RESULTS   where the JSON figures go (default target/bench)
#   BENCH_BIN       a folder holding tabula-server and tabula-bench already built
#                   (for example a copy of an older build, to compare): no build
#                   of them (the fastwebsockets peer is still looked for, and
#                   built if missing, in $CARGO_TARGET_DIR/release or target/release)
#   BENCH_NOTE      a sentence added to the run's header (for example, what else
#                   was running on the machine)
# Everything listens on 127.0.0.1 only, and every scenario stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-5}
IDLE=${BENCH_IDLE:-10000}
IDLE_HOLD=${BENCH_IDLE_HOLD:-30}
JOIN_OPS=${BENCH_JOIN_OPS:-1000000}
RELAYS=${BENCH_RELAYS:-"tabula tabula-memory node-ws python-websockets fastwebsockets"}
OUT=${BENCH_OUT:-BENCHMARKS.md}
RESULTS=${BENCH_RESULTS:-target/bench}
SCENARIOS=${BENCH_SCENARIOS:-"fanout-2 fanout-10 fanout-100 room-1000fps rooms-100x10 slow-consumer idle ramp join"}
read -r -a TABULA_ARGS <<<"${BENCH_TABULA_ARGS:-}"
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release}
BENCH=$BIN/tabula-bench
FASTWEBSOCKETS=${CARGO_TARGET_DIR:-target}/release/fastwebsockets-relay

if [[ -z "${BENCH_BIN:-}" ]]; then
    echo "== building the relay and the load generator (release)"
    cargo build --release -p tabula-server -p tabula-bench
fi

# The peers asked for that are not installed yet.
MISSING=()
if [[ " $RELAYS " == *" node-ws "* && ! -d bench/peers/node-ws/node_modules/ws ]]; then
    MISSING+=(node-ws)
fi
if [[ " $RELAYS " == *" python-websockets "* && ! -x bench/peers/python-websockets/.venv/bin/python ]]; then
    MISSING+=(python-websockets)
fi
# cargo decides whether the peer is up to date with its sources.
if [[ " $RELAYS " == *" fastwebsockets "* ]]; then
    MISSING+=(fastwebsockets)
fi
if [[ ${#MISSING[@]} -gt 0 ]]; then
    bash bench/peers/install.sh "${MISSING[@]}"
fi

# Enough file descriptors for the idle scenario, in the relays and the generator.
ulimit -n "$(( IDLE * 2 + 1024 ))" 2>/dev/null || ulimit -n "$(ulimit -Hn)"

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
RELAY_PID=
PORT=

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop_relay() {
    if [[ -n "$RELAY_PID" ]]; then
        kill "$RELAY_PID" 2>/dev/null || true
        wait "$RELAY_PID" 2>/dev/null || true
        RELAY_PID=
    fi
}
trap stop_relay EXIT

# Tabula's limits that the load generator meets by design, raised for the run
# (when the relay has them): every connection comes from 127.0.0.1, so the
# per-address limits (connections, and new rooms a minute: up to 1,000 rooms
# are made at once); and the join's filler sends a million ops as
# fast as it can, so its scenario also gets the per-connection rates. Scenario
# name in $1; the flags in LIMIT_ARGS.
limit_args() {
    LIMIT_ARGS=()
    if "$BIN/tabula-server" --help 2>/dev/null | grep -q -- --max-connections-per-address; then
        LIMIT_ARGS=(--max-connections-per-address 1000000 --new-rooms-per-minute 1000000)
        if [[ "$1" == join ]]; then
            LIMIT_ARGS+=(--max-messages-per-sec 4294967295 --messages-burst 4294967295
                --max-bytes-per-sec 4294967295 --bytes-burst 4294967295)
        fi
    fi
}

# Starts relay $1 on a free port, pinned to core 0, and waits until it listens;
# $2 is the scenario.
start_relay() {
    PORT=$(free_port)
    limit_args "${2:-}"
    case "$1" in
        tabula)
            rm -rf "$RESULTS/data"
            RUST_LOG=warn taskset -c 0 "$BIN/tabula-server" --data "$RESULTS/data" \
                --listen "127.0.0.1:$PORT" "${LIMIT_ARGS[@]}" "${TABULA_ARGS[@]}" \
                >"$RESULTS/relay.log" 2>&1 &
            ;;
        tabula-memory)
            RUST_LOG=warn taskset -c 0 "$BIN/tabula-server" --memory \
                --listen "127.0.0.1:$PORT" "${LIMIT_ARGS[@]}" "${TABULA_ARGS[@]}" \
                >"$RESULTS/relay.log" 2>&1 &
            ;;
        node-ws)
            taskset -c 0 node bench/peers/node-ws/server.js "$PORT" >"$RESULTS/relay.log" 2>&1 &
            ;;
        python-websockets)
            taskset -c 0 bench/peers/python-websockets/.venv/bin/python \
                bench/peers/python-websockets/server.py "$PORT" >"$RESULTS/relay.log" 2>&1 &
            ;;
        fastwebsockets)
            taskset -c 0 "$FASTWEBSOCKETS" "$PORT" >"$RESULTS/relay.log" 2>&1 &
            ;;
        *)
            echo "unknown relay $1" >&2
            exit 2
            ;;
    esac
    RELAY_PID=$!
    for _ in $(seq 100); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "relay $1 did not start listening on port $PORT" >&2
    cat "$RESULTS/relay.log" >&2
    exit 1
}

# Runs one scenario against one relay: scenario name, relay, then tabula-bench's
# flags (without --url, --raw, --json, --relay-pid). The figures go to
# $RESULTS/SCENARIO.RELAY.json, the command to the .cmd file beside it.
scenario() {
    local name=$1 relay=$2 room=$3
    shift 3
    [[ " $SCENARIOS " == *" ${name%%-[0-9]*} "* || " $SCENARIOS " == *" $name "* ]] || return 0
    local mode=()
    [[ "$relay" == tabula* ]] || mode=(--raw)
    start_relay "$relay" "$name"
    local cmd=(taskset -c 1 "$BENCH" --url "ws://127.0.0.1:$PORT/$room" "${mode[@]}" --json
        --relay-pid "$RELAY_PID" "$@")
    echo "-- $name / $relay: ${cmd[*]}"
    echo "${cmd[*]}" | sed "s/:$PORT\//:PORT\//; s/--relay-pid $RELAY_PID/--relay-pid PID/" \
        >"$RESULTS/$name.$relay.cmd"
    if "${cmd[@]}" >"$RESULTS/$name.$relay.out" 2>"$RESULTS/$name.$relay.err"; then
        :
    else
        echo "   (tabula-bench exited $?; figures kept with its error)"
    fi
    tail -n 1 "$RESULTS/$name.$relay.out" >"$RESULTS/$name.$relay.json" || true
    sed 's/^/   /' "$RESULTS/$name.$relay.err"
    stop_relay
}

uptime >"$RESULTS/loadavg-start"
for relay in $RELAYS; do
    scenario fanout-2 "$relay" fanout --peers 2 --rate 60 --size 100 --duration "$DURATION"
    scenario fanout-10 "$relay" fanout --peers 10 --rate 60 --size 100 --duration "$DURATION"
    scenario fanout-100 "$relay" fanout --peers 100 --rate 60 --size 100 --duration "$DURATION"
    scenario room-1000fps "$relay" busy --peers 10 --rate 100 --size 100 --duration "$DURATION"
    scenario rooms-100x10 "$relay" many --peers 1000 --rooms 100 --rate 60 --size 100 \
        --duration "$DURATION"
    scenario slow-consumer "$relay" slow --peers 101 --slow 1 --rate 60 --size 100 \
        --duration "$DURATION"
    scenario idle "$relay" idle --idle "$IDLE" --rooms "$(( (IDLE + 9) / 10 ))" \
        --hold "$IDLE_HOLD"
    # The ramp: 100 peers in one room, the rate doubling until p99 passes 50 ms,
    # frames are lost, or the relay stops taking the load (under 90 % of the
    # offered frames could be sent); the last step that held is the saturation point.
    for rate in 15 30 60 120 240 480; do
        scenario "ramp-$rate" "$relay" ramp --peers 100 --rate "$rate" --size 100 \
            --duration "$DURATION"
        if ! jq -e '.error == null and .lost == 0 and .p99_us <= 50000 and .sent >= 0.9 * .offered' \
            "$RESULTS/ramp-$rate.$relay.json" >/dev/null 2>&1; then
            break
        fi
    done
done
if [[ "$JOIN_OPS" -gt 0 ]]; then
    # The join waits for the relay's snapshot to cover the room, so it needs the
    # relay's --snapshot-every when BENCH_TABULA_ARGS sets one.
    SNAPSHOT_EVERY=()
    for ((i = 0; i < ${#TABULA_ARGS[@]}; i++)); do
        case "${TABULA_ARGS[i]}" in
            --snapshot-every) SNAPSHOT_EVERY=(--snapshot-every "${TABULA_ARGS[i + 1]:-}") ;;
            --snapshot-every=*) SNAPSHOT_EVERY=(--snapshot-every "${TABULA_ARGS[i]#*=}") ;;
        esac
    done
    for relay in $RELAYS; do
        if [[ "$relay" == tabula* ]]; then
            scenario join "$relay" join --join-ops "$JOIN_OPS" --size 100 "${SNAPSHOT_EVERY[@]}"
        fi
    done
fi
uptime >"$RESULTS/loadavg-end"

echo "== writing $OUT"
python3 bench/report.py "$RESULTS" "$OUT" "$DURATION" "${BENCH_NOTE:-}"
echo "done: $OUT"
