#!/usr/bin/env bash
# The pipeline steps of .github/workflows/pipeline.yml, runnable anywhere: run it from the project root
# with .venv's tools on PATH and a DVC remote configured (`slmops remote add <url>`).
#   SLMOPS_BASE_REV   the revision to compare metrics with (default: main)
#   GITHUB_STEP_SUMMARY  where GitHub shows the job summary; the diff is also left in metrics-diff.md
set -euo pipefail
base="${SLMOPS_BASE_REV:-main}"

# Whatever the remote already holds (outputs and run-cache): a first run finds nothing, and that is fine.
dvc pull --run-cache --allow-missing
# Reruns only what changed; a stage run before with the same deps and params is restored from the run-cache.
dvc repro
dvc push --run-cache

{
  echo "## Metrics: this revision vs ${base}"
  echo
  dvc metrics diff "${base}" --md || echo "(no metrics at ${base} to compare with)"
} > metrics-diff.md
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat metrics-diff.md >> "${GITHUB_STEP_SUMMARY}"
fi
cat metrics-diff.md
