#!/usr/bin/env bash
# The whole test suite. Installs what the tests need (PostgreSQL and Redis when they do not run,
# by scripts/services.sh; Python venv with the real `fdk`, `msal`, `azure-identity` and `oci-cli`
# (with the OCI Python SDK) from PyPI; `@fnproject/fdk`, `oci-functions`, `oci-common`,
# `@azure/msal-node`, `@azure/msal-browser` and `playwright-core` from npm; Debian's `chromium` for
# the sign-in browser test), then runs format, lint and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="$PWD/target/test-tools"
export FNGATE_TEST_TOOLS="$tools"
mkdir -p "$tools"

# A clean CI clone never rebuilds, so incremental caches would only take disk.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi

step() { printf '\n==> %s\n' "$*"; }

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  step "installing python3-venv (apt)"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq python3-venv
  else sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv; fi
fi

# The IdP CLI test makes its client certificate with the openssl command, as users do.
if ! command -v openssl >/dev/null 2>&1; then
  step "installing openssl (apt)"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq openssl
  else sudo apt-get update -qq && sudo apt-get install -y -qq openssl; fi
fi

# The sign-in browser test drives Debian's chromium (headless) through playwright-core.
if [ ! -x /usr/bin/chromium ]; then
  step "installing chromium (apt)"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq chromium
  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi
fi

# PostgreSQL and Redis for the store and multi-node tests: installed and started when missing.
step "PostgreSQL and Redis (scripts/services.sh)"
scripts/services.sh

step "Python test tools (fdk, msal, azure-identity, oci-cli) in $tools/venv"
[ -x "$tools/venv/bin/python" ] || python3 -m venv "$tools/venv"
"$tools/venv/bin/pip" install -q --disable-pip-version-check fdk msal azure-identity oci-cli

step "Node test tools (@fnproject/fdk, oci-functions, oci-common, MSAL, playwright-core) in $tools/node"
mkdir -p "$tools/node"
[ -f "$tools/node/package.json" ] || echo '{"private":true}' > "$tools/node/package.json"
npm install --prefix "$tools/node" --silent --no-audit --no-fund @fnproject/fdk oci-functions oci-common \
  @azure/msal-node @azure/msal-browser playwright-core

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# Includes the fuzz targets' bounded, deterministic run (fuzz/tests/bounded.rs, ~30 s);
# scripts/fuzz.sh runs them open-ended under libFuzzer.
step "cargo test"
cargo test --workspace --no-fail-fast
