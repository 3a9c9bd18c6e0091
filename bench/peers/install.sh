#!/usr/bin/env bash
# Installs the benchmark peers from their registries at the versions they pin:
# ws from npm into bench/peers/node-ws/node_modules, websockets from PyPI into a
# virtualenv at bench/peers/python-websockets/.venv. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

echo "== node-ws: npm install (ws pinned in package.json)"
(cd node-ws && npm install --no-audit --no-fund --silent)
node -e "console.log('ws', require('./node-ws/node_modules/ws/package.json').version)"

echo "== python-websockets: venv + pip install -r requirements.txt"
python3 -m venv python-websockets/.venv
python-websockets/.venv/bin/pip install --quiet --disable-pip-version-check \
    -r python-websockets/requirements.txt
python-websockets/.venv/bin/python -c "import websockets; print('websockets', websockets.__version__)"
