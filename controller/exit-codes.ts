/** @module The one place where errors become exit codes. */
import type { ErrorCode } from "../core/errors";

/** Everything went well. */
export const EXIT_OK = 0;
/** A job failed (a host unreachable, a plugin failed, a restore refused). */
export const EXIT_JOB_FAILED = 1;
/** Usage or configuration error: nothing was attempted. */
export const EXIT_USAGE = 2;

/** The exit code for an error that ended a command. */
export function exitCodeFor(code: ErrorCode | string): number {
  switch (code) {
    case "USAGE":
    case "CONFIG":
    case "KEYS":
      return EXIT_USAGE;
    default:
      return EXIT_JOB_FAILED;
  }
}
