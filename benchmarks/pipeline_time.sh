#!/usr/bin/env bash
# Wall time of the whole default pipeline from scratch (install excluded), then of a no-op `dvc repro`.
# Usage: bash benchmarks/pipeline_time.sh   (after `make install`)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" KEDRO_DISABLE_TELEMETRY=true DO_NOT_TRACK=1
start=$(date +%s)
dvc repro --force > reports/pipeline_time.log 2>&1
full=$(( $(date +%s) - start ))
start=$(date +%s%N)
dvc repro > /dev/null 2>&1
noop_ms=$(( ($(date +%s%N) - start) / 1000000 ))
noop="$((noop_ms / 1000)).$(printf '%03d' $((noop_ms % 1000)))"
echo "full pipeline (dvc repro --force): ${full} s   target <= 600 s (10 minutes)"
echo "nothing changed (dvc repro):        ${noop} s   target <= 2 s"
grep -h '"train_seconds"\|"tokens_per_second"' reports/metrics/train.json | tr -s ' '
