#!/usr/bin/env bash
# Wall time of `dvc repro` and `dvc status` when nothing changed (invariant: repro <= 2 s), median of N runs each,
# alternating. Run it after a whole pipeline run, on a quiet machine.
# Usage: bash benchmarks/noop_time.sh [N=5]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" KEDRO_DISABLE_TELEMETRY=true DO_NOT_TRACK=1
runs=${1:-5}
# DVC parses dvc.lock and params.yaml with ruamel.yaml, ~4x slower without its C parser (ruamel.yaml.clib).
python -c 'from ruamel.yaml.main import CParser; print("ruamel.yaml C parser:", "yes" if CParser else "NO (pure Python)")'
# The `inputs` stage is always_changed (it fingerprints the base model and data): status always lists it alone.
stale=$(dvc status --json | python -c 'import json, sys; print(" ".join(sorted(set(json.load(sys.stdin)) - {"data/00_inputs/dvc.yaml:inputs"})))')
[ -z "$stale" ] || { echo "error: dvc status lists $stale: run dvc repro first" >&2; exit 1; }
time_ms() {  # wall milliseconds of one command, its output discarded
  local start=$(date +%s%N)
  "$@" > /dev/null 2>&1
  echo $(( ($(date +%s%N) - start) / 1000000 ))
}
repro=() status=()
for _ in $(seq "$runs"); do
  repro+=("$(time_ms dvc repro)")
  status+=("$(time_ms dvc status)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; printf "%d.%03d s", m/1000, m%1000}'; }
# Printed and kept in benchmarks/results/ with the date and the machine (docs quote figures from there only).
mkdir -p benchmarks/results
{
  echo "$(date -u +%Y-%m-%dT%H:%MZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs,"\
       "avx512f: $(grep -qw avx512f /proc/cpuinfo && echo yes || echo no)," \
       "avx512_bf16: $(grep -q avx512_bf16 /proc/cpuinfo && echo yes || echo no), git $(git rev-parse --short HEAD)"
  echo "dvc repro, nothing changed:  median $(median "${repro[@]}") of $runs (${repro[*]} ms)   target <= 2 s"
  echo "dvc status, nothing changed: median $(median "${status[@]}") of $runs (${status[*]} ms)"
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a benchmarks/results/noop_time.txt
