import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["core/**/*.test.ts", "platform/**/*.test.ts", "agent/**/*.test.ts", "plugins/**/*.test.ts", "controller/**/*.test.ts", "inventory/**/*.test.ts", "test/**/*.test.ts"],

    globalSetup: ["test/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // The end-to-end suites start sshd, s3rver and friends; two cores are shared.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
