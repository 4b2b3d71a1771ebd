#!/usr/bin/env bash
# Builds fngate and runs the whole stack (`fngate up`) on embedded defaults.
# Extra arguments go to `fngate up` (e.g. `./scripts/up.sh --demo`).
set -euo pipefail
cd "$(dirname "$0")/.."

# Python functions are prepared in a virtualenv; Debian ships venv/ensurepip separately.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "==> installing python3-venv (apt)"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq python3-venv
  else sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv; fi
fi

echo "==> building fngate (release)"
cargo build --release --locked -p fngate
exec ./target/release/fngate up "$@"
