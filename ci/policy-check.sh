#!/usr/bin/env bash
# The policy checks of a pull request, for any CI system (docs/ci.md):
#
#   1. entitle check                 definitions load, compile and lint clean; SARIF for code scanning
#   2. entitle test --coverage       the suites pass and cover at least MIN_COVERAGE percent; JUnit XML
#   3. entitle whatif --base BASE    who gains and who loses what, as a Markdown pull-request comment
#   4. entitle compile --check       the committed Cedar artefacts are up to date
#
# Every step runs and writes its report, whatever the others did; the script
# exits 2 if a step met bad usage or unreadable input, else 1 if a step found
# something, else 0. Run it from the root of the policy repository.
#
# Environment (all optional):
#   ENTITLE       the entitle command                        (default: entitle)
#   OUT           where the reports go                       (default: entitle-reports)
#   MIN_COVERAGE  the coverage gate, in percent              (default: 90)
#   BASE_REF      the revision the change is compared with   (default: origin/main)
#   IDENTITIES    the identity feed whatif evaluates         (default: fixtures/identities.jsonl)
#   AS_OF         the instant whatif evaluates at            (default: now)
#   COMPILED      the committed compiled artefacts           (default: compiled)
set -uo pipefail

entitle="${ENTITLE:-entitle}"
out="${OUT:-entitle-reports}"
min_coverage="${MIN_COVERAGE:-90}"
base="${BASE_REF:-origin/main}"
identities="${IDENTITIES:-fixtures/identities.jsonl}"
compiled="${COMPILED:-compiled}"
mkdir -p "$out"

status=0
# Records a step's exit code: 2 (bad usage) outranks 1 (findings).
record() {
  local code=$1 step=$2
  if [ "$code" -ne 0 ]; then
    echo "policy-check: $step failed (exit $code)" >&2
    if [ "$code" -ge 2 ] || [ "$status" -ge 2 ]; then status=2; else status=1; fi
  fi
}

echo "== entitle check"
"$entitle" check
record $? "check"
"$entitle" check --format sarif > "$out/entitle.sarif"

echo "== entitle test --coverage --min-coverage $min_coverage"
"$entitle" test --coverage --min-coverage "$min_coverage"
record $? "test"
"$entitle" test --format junit > "$out/junit.xml"

echo "== entitle whatif --base $base"
if git rev-parse --verify --quiet "$base^{commit}" > /dev/null; then
  as_of=()
  if [ -n "${AS_OF:-}" ]; then as_of=(--as-of "$AS_OF"); fi
  "$entitle" whatif --identities "$identities" --base "$base" "${as_of[@]}" --format markdown > "$out/whatif.md"
  code=$?
  cat "$out/whatif.md"
  record $code "whatif"
else
  echo "policy-check: the base revision \`$base\` is not in this clone: fetch it (GitHub: actions/checkout with fetch-depth: 0)" >&2
  record 2 "whatif"
fi

echo "== entitle compile --check"
if [ -d "$compiled" ]; then
  "$entitle" compile --out "$compiled" --check
  record $? "compile --check"
else
  echo "policy-check: no committed artefacts at \`$compiled\`: compiling to $out/compiled to show they build"
  "$entitle" compile --out "$out/compiled"
  record $? "compile"
fi

exit "$status"
