#!/usr/bin/env bash
# bench/smoke.sh: a 2-second run of tabula-bench against a fresh relay on
# loopback, so that the load generator cannot rot. Dev profile (CI's build), not
# release: it checks that the tool works, not how fast the relay is.
set -euo pipefail
cd "$(dirname "$0")/.."

# What `cargo test --workspace` builds (the binaries included: tabula-server's and
# tabula-bench's integration tests run them), so that after the tests nothing is
# built again: a plain `cargo build` unifies features differently.
cargo test --workspace --no-run --quiet
bin=${CARGO_TARGET_DIR:-target}/debug
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $(( 20000 + RANDOM % 20000 )))
data=$(mktemp -d)
RUST_LOG=warn "$bin/tabula-server" --listen "127.0.0.1:$port" --data "$data" &
relay=$!
trap 'kill "$relay" 2>/dev/null || true; wait "$relay" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

out=$("$bin/tabula-bench" --url "ws://127.0.0.1:$port/smoke" --peers 4 --rooms 2 \
    --rate 50 --size 100 --duration 2 --relay-pid "$relay" --json)
echo "$out"
last=$(tail -n 1 <<<"$out")
if [[ "$last" != *'"lost":0,'* || "$last" == *'"delivered":0,'* || "$last" != *'"error":null'* ]]; then
    echo "tabula-bench smoke: expected deliveries, no loss and no error" >&2
    exit 1
fi
echo "tabula-bench smoke: ok"
