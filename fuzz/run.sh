#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), one after another, and
# prints each one's executions and what it found. Needs the nightly toolchain
# and cargo-fuzz (`cargo install cargo-fuzz`). Not part of CI.
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]
#
# Crashes land in fuzz/artifacts/TARGET/; each one found becomes a regression
# test beside the code it broke (see FUZZING.md).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(frame_decoder snapshot_decoder board_ops session_file)
fi
for target in "${targets[@]}"; do
  corpus="corpus/$target"
  mkdir -p "$corpus"
  seeds=()
  [ -d "seeds/$target" ] && seeds=("seeds/$target")
  max_len=4096
  [ "$target" = session_file ] && max_len=65536
  echo "== $target, ${seconds}s"
  log=$(mktemp)
  # -fork=1 keeps going after a crash and counts them; the log's last lines
  # have the executions.
  if cargo +nightly fuzz run -O "$target" "$corpus" "${seeds[@]}" -- \
      -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    status="no crash"
  else
    status="FOUND SOMETHING (see fuzz/artifacts/$target)"
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE" "$log" || true
  grep -E "^==[0-9]+==ERROR|panicked at|SUMMARY" "$log" | head -5 || true
  echo "$status; corpus: $(ls "$corpus" | wc -l) inputs"
  rm -f "$log"
done
