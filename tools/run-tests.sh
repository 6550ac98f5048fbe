#!/usr/bin/env bash
# Runs each test binary given, prints its output, and ends with one summary
# line.  Exits non-zero when any binary fails.
set -u

passed=0
failed=0
failed_names=()
for t in "$@"; do
    echo "== $t"
    if "$t"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names+=("$t")
    fi
done

echo
[ $failed -gt 0 ] && echo "failed test programs: ${failed_names[*]}"
echo "programs: $passed passed, $failed failed"
[ $failed -eq 0 ]
