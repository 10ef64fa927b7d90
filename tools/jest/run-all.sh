#!/usr/bin/env bash
# Every test: the suites two at a time, then the VMware Blockchain network suite on its own (its
# ten machines, agents and replicas do not share the two cores well with other end-to-end suites)
# and the plugin generator's (it adds a plugin to the workspace, which every server started
# meanwhile would load).
# The summary line counts both runs; the exit code fails if either failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
npx jest --maxWorkers=2 --testPathIgnorePatterns 'vmbc\.e2e-spec' 'plugin-generator\.e2e-spec' "$@"
first=$?
CHAINVAULT_SUMMARY_ADD=1 npx jest --runInBand apps/server-e2e/src/vmbc.e2e-spec.ts apps/server-e2e/src/plugin-generator.e2e-spec.ts "$@"
second=$?
[ "$first" -eq 0 ] && [ "$second" -eq 0 ]
