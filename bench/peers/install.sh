#!/usr/bin/env bash
# Installs the benchmark peers from their registries at the versions they pin:
# ws from npm into bench/peers/node-ws/node_modules, websockets from PyPI into a
# virtualenv at bench/peers/python-websockets/.venv, and fastwebsockets from
# crates.io, built (release, `--locked` to its Cargo.lock) into the relay's
# target folder: $CARGO_TARGET_DIR/release/fastwebsockets-relay, or
# target/release/ without it. Safe to run again.
#
# With arguments, installs only the peers named (node-ws, python-websockets,
# fastwebsockets).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
peers=("$@")
[[ ${#peers[@]} -gt 0 ]] || peers=(node-ws python-websockets fastwebsockets)
wanted() { [[ " ${peers[*]} " == *" $1 "* ]]; }

if wanted node-ws; then
    echo "== node-ws: npm install (ws pinned in package.json)"
    (cd node-ws && npm install --no-audit --no-fund --silent)
    node -e "console.log('ws', require('./node-ws/node_modules/ws/package.json').version)"
fi

if wanted python-websockets; then
    echo "== python-websockets: venv + pip install -r requirements.txt"
    python3 -m venv python-websockets/.venv
    python-websockets/.venv/bin/pip install --quiet --disable-pip-version-check \
        -r python-websockets/requirements.txt
    python-websockets/.venv/bin/python -c "import websockets; print('websockets', websockets.__version__)"
fi

if wanted fastwebsockets; then
    echo "== fastwebsockets: cargo build --release --locked (fastwebsockets pinned in Cargo.toml)"
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target} cargo build --release --locked \
        --manifest-path fastwebsockets-rust/Cargo.toml
    grep -A1 '^name = "fastwebsockets"$' fastwebsockets-rust/Cargo.lock | sed -n 's/^version = "\(.*\)"/fastwebsockets \1/p'
fi
