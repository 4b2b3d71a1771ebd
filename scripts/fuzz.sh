#!/usr/bin/env bash
# Coverage-guided fuzzing of fngate's parsers with libFuzzer (cargo-fuzz), on the stable toolchain.
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]     default: all targets, 60 s each
#
# Targets: spec, token, funcfile, fdk_response, path (see docs/notes/fuzzing.md). The corpus starts
# from the same seeds the bounded CI run uses (fuzz/seeds/, examples/, the spec's test data,
# `fngate init` output) and grows in target/fuzz/corpus/TARGET; crashes land in
# target/fuzz/artifacts/TARGET/ and the script exits non-zero. Reproduce one with
#   scripts/fuzz.sh TARGET 0 target/fuzz/artifacts/TARGET/crash-...
# then add it to fuzz/seeds/TARGET/ (the CI run replays every seed) and a regression test to the
# crate that owns the bug.
#
# Environment: FUZZ_SANITIZER (none | address; default none: the parsers are safe Rust, and the
# checks are assertions), FUZZ_JOBS (parallel libFuzzer jobs, default 1), FUZZ_ARGS (extra
# libFuzzer flags). Runs under `nice`: the machine may be shared.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(spec token funcfile fdk_response path)
target="${1:-all}"
seconds="${2:-60}"
reproduce="${3:-}"
case "$target" in
  all) targets=("${all_targets[@]}") ;;
  spec | token | funcfile | fdk_response | path) targets=("$target") ;;
  *) echo "unknown target '$target'; one of: ${all_targets[*]} all" >&2; exit 2 ;;
esac
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "SECONDS must be a whole number, got '$seconds'" >&2
  exit 2
fi

tools="$PWD/target/fuzz-tools"
export PATH="$tools/bin:$PATH"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz into $tools"
  nice -n 10 cargo install cargo-fuzz --version 0.13.2 --locked --root "$tools"
fi
# cargo-fuzz passes nightly-only flags (-Zsanitizer, sancov options); the stable compiler takes
# them with RUSTC_BOOTSTRAP=1. Nothing else in the build sees this variable.
export RUSTC_BOOTSTRAP=1

# The dev profile (dependencies at opt-level 1, no LTO): the release profile's thin LTO made the
# instrumented build take far longer than the fuzzing it serves. Debug assertions stay on.
fuzz_flags=(--fuzz-dir fuzz --features libfuzzer --target-dir target/fuzz --dev --debug-assertions
  --sanitizer "${FUZZ_SANITIZER:-none}")

if [ -n "$reproduce" ]; then
  exec nice -n 10 cargo fuzz run "${fuzz_flags[@]}" "${targets[0]}" "$reproduce"
fi

status=0
for t in "${targets[@]}"; do
  corpus="target/fuzz/corpus/$t"
  artifacts="target/fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  # The seeds, written by the same code the CI run reads them with.
  FNGATE_FUZZ_CORPUS="$PWD/$corpus" FNGATE_FUZZ_TARGET="$t" nice -n 10 \
    cargo test -q -p fngate-fuzz --test bounded -- --ignored --exact write_corpus >/dev/null
  echo "==> fuzzing $t for ${seconds}s (corpus $corpus: $(find "$corpus" -type f | wc -l) inputs)"
  jobs=()
  if [ "${FUZZ_JOBS:-1}" -gt 1 ]; then jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS"); fi
  # shellcheck disable=SC2086
  if ! nice -n 10 cargo fuzz run "${fuzz_flags[@]}" "$t" "$corpus" -- \
    -max_total_time="$seconds" -dict="fuzz/dict/$t.dict" -artifact_prefix="$artifacts/" \
    -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 "${jobs[@]}" ${FUZZ_ARGS:-}; then
    echo "==> $t: libFuzzer stopped on a failure; see $artifacts/" >&2
    status=1
  fi
done
exit "$status"
