#!/usr/bin/env bash
# The test command: type-check, then every *.test.ts under src/ and test/ with node's test runner.
# Node 20's --test does not expand globs, so the files are listed here.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc --noEmit
mapfile -t files < <(find src test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=2 --test-reporter=spec "$@" "${files[@]}"
