/** @module Running an operator's command (stop, start, reload, hooks) with `sh -c` on the host. */
import { LifeboatError, type ErrorCode } from "../../core/errors";
import type { Platform } from "../../core/platform";

/**
 * Runs `command` with stdout and stderr combined; resolves with its exit code and output.
 * `env` reaches the command's environment (never its argv: `${NAME}` in the command is expanded by sh).
 */
export async function runShell(platform: Platform, command: string, signal?: AbortSignal, env?: Record<string, string>): Promise<{ code: number; output: string }> {
  const result = await platform.run("sh", ["-c", `exec 2>&1; ${command}`], { ...(signal ? { signal } : {}), ...(env ? { env } : {}) });
  return { code: result.code, output: result.stdout };
}

/**
 * Runs `command` for the action `what` (e.g. "stop Redis") and logs it.
 * @throws LifeboatError(`code`) with the exit code and output when it fails.
 */
export async function runStep(platform: Platform, log: (message: string) => void, what: string, command: string, code: ErrorCode = "RESTORE"): Promise<void> {
  const result = await runShell(platform, command);
  log(`${what}: \`${command}\` exited ${result.code}${result.output.trim() ? `: ${result.output.trim()}` : ""}`);
  if (result.code !== 0) throw new LifeboatError(code, `Cannot ${what} with "${command}": exit code ${result.code}: ${result.output.trim().slice(0, 300)}`);
}
