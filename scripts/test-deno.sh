#!/usr/bin/env bash
# The second half of `npm test`: a representative part of the agent's end-to-end tests run
# again with the agent under Deno (the same tests, the other runtime). The harness then pins
# every simulated host's runtime to the Deno binary of the `deno` npm dependency
# (test/harness/test-runtime.ts), and the agents run chunk work on 2 worker threads.
# Covered: backup and restore to each destination type (s3, sftp through rclone, local),
# verify on the host and stored, hooks, one job per host, secrets kept out, prune by the
# agent, and the spec gate's refusals.
set -euo pipefail
cd "$(dirname "$0")/.."
files=(
  test/e2e/fleet-backup-restore.test.ts
  test/e2e/host-jobs.test.ts
  test/e2e/agent-spec-gate.test.ts
  test/e2e/prune-local.test.ts
)
LIFEBOAT_TEST_RUNTIME=deno LIFEBOAT_AGENT_WORKERS=2 npx vitest run "${files[@]}"
