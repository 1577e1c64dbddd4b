#!/usr/bin/env bash
# Runs one fuzz target for a bounded time, then prints libFuzzer's final figures.
#
#   fuzz/run.sh TARGET SECONDS      # TARGET: definitions, conditions, identities, live
#   fuzz/run.sh --minimise TARGET   # minimises what runs found into fuzz/work/TARGET and fuzz/corpus/TARGET (libFuzzer -merge=1)
#
# Needs `cargo install cargo-fuzz` (installed here on first use). Builds with
# the stable toolchain: `--sanitizer none` (no -Z flag needed); cargo fuzz's
# default profile, release with debug assertions and overflow checks. New
# inputs go to fuzz/work/TARGET; the committed corpus fuzz/corpus/TARGET and
# the seeds (fuzz/seeds, written from the repository's cases by `cargo run
# --example fuzz_seeds`) are read, never written, by a run.
# Findings land in fuzz/artifacts/TARGET.
set -euo pipefail
cd "$(dirname "$0")"

usage() { echo "usage: fuzz/run.sh TARGET SECONDS | fuzz/run.sh --minimise TARGET" >&2; exit 2; }
minimise=false
if [ "${1:-}" = "--minimise" ]; then minimise=true; shift; fi
target=${1:-}
case "$target" in
  definitions) max_len=32768 ;;
  conditions) max_len=1024 ;;
  identities | live) max_len=8192 ;;
  *) usage ;;
esac

command -v cargo-fuzz > /dev/null || cargo install cargo-fuzz --locked
[ -d "seeds/$target" ] || (cd .. && cargo run -q --example fuzz_seeds -- fuzz/seeds)
mkdir -p "work/$target" "corpus/$target" "artifacts/$target"
flags=(--sanitizer none)
# libFuzzer: a 10 s timeout per input (the "bounded time" of an input), 2 GiB of memory.
options=(-timeout=10 -rss_limit_mb=2048 "-max_len=$max_len" -print_final_stats=1)

files() { echo "$(find "$1" -type f | wc -l) files, $(find "$1" -type f -exec cat {} + | wc -c) bytes"; }
if $minimise; then
  # 1. Every input found (committed corpus, working corpus, seeds) merged into
  #    the fewest that keep every feature libFuzzer tracks: the new working corpus.
  merged=$(mktemp -d "work/$target.merge.XXXXXX")
  cargo fuzz run "${flags[@]}" "$target" "$merged" "corpus/$target" "work/$target" "seeds/$target" -- -merge=1 "${options[@]}"
  rm -rf "work/$target"
  mv "$merged" "work/$target"
  echo "work/$target (every feature): $(files "work/$target")"
  # 2. The committed corpus: the fewest of those that keep every coverage
  #    edge (features without hit counts, -use_counters=0), small enough to
  #    commit and to run under `cargo test` (tests/fuzz_regressions.rs).
  merged=$(mktemp -d "corpus/$target.merge.XXXXXX")
  cargo fuzz run "${flags[@]}" "$target" "$merged" "work/$target" -- -merge=1 -use_counters=0 "${options[@]}"
  rm -rf "corpus/$target"
  mv "$merged" "corpus/$target"
  echo "corpus/$target (every edge): $(files "corpus/$target")"
  exit 0
fi

seconds=${2:-}
[[ "$seconds" =~ ^[0-9]+$ ]] || usage
echo "fuzz/run.sh $target $seconds: started $(date -u +%Y-%m-%dT%H:%M:%SZ)"
cargo fuzz run "${flags[@]}" "$target" "work/$target" "corpus/$target" "seeds/$target" -- \
  "-max_total_time=$seconds" "${options[@]}"
