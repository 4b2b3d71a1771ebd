#!/usr/bin/env bash
# Runs every benchmark; each prints its own table of ratios against baselines measured in the same run.
# Usage: bash bench/run.sh [functions|gateway|auth|idp ...]
set -euo pipefail
cd "$(dirname "$0")/.."
areas=("$@")
[ ${#areas[@]} -gt 0 ] || areas=(functions gateway auth idp)
for area in "${areas[@]}"; do
  if [ ! -f "bench/$area/run.sh" ]; then
    echo "unknown benchmark area: $area (have: $(ls -d bench/*/ | xargs -n1 basename | tr '\n' ' '))" >&2
    exit 2
  fi
  printf '\n######## %s ########\n' "$area"
  bash "bench/$area/run.sh"
done
