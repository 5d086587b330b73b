/** @module The one place where errors become exit codes. */
import type { ErrorCode } from "../core/errors";

/** Everything went well. */
export const EXIT_OK = 0;
/** A job failed (a host unreachable, a plugin failed, a restore refused). */
export const EXIT_JOB_FAILED = 1;
/**
 * The command was refused before anything ran: a wrong command line or
 * configuration, missing keys, or a name that does not exist (a host, a
 * snapshot, a plugin to select).
 */
export const EXIT_USAGE = 2;

/** The exit code for an error that ended a command. */
export function exitCodeFor(code: ErrorCode | string): number {
  switch (code) {
    case "USAGE":
    case "CONFIG":
    case "KEYS":
    // Errors that end a command come before its jobs (a job's failures end up in its outcome):
    // a snapshot or host that does not exist is a name the command line got wrong.
    case "NOT_FOUND":
      return EXIT_USAGE;
    default:
      return EXIT_JOB_FAILED;
  }
}
