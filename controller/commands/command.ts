/** @module The shape of a controller command, and helpers they share. */
import type { GlobalOptions } from "../cli-args";
import { JsonReporter } from "../output/json-reporter";
import { PlainReporter } from "../output/plain-reporter";
import type { Reporter } from "../output/reporter";
import { TtyReporter } from "../output/tty-reporter";

/** One `controller <name>` command. */
export interface Command {
  name: string;
  /** One line for `controller --help`. */
  summary: string;
  /** Full usage text. */
  usage: string;
  /** Runs the command; resolves to its exit code. Throws LifeboatError for usage/config problems. */
  run(argv: string[]): Promise<number>;
}

/** The reporter that suits the output: NDJSON with --json, live lines on a terminal, plain lines otherwise. */
export function reporterFor(globals: GlobalOptions): Reporter {
  if (globals.json) return new JsonReporter();
  if (process.stdout.isTTY && process.env.TERM !== "dumb") return new TtyReporter();
  return new PlainReporter();
}

/** Prints a line (text mode) or a JSON value (json mode) to stdout. */
export function emit(globals: GlobalOptions, text: () => string, json: () => unknown): void {
  process.stdout.write(globals.json ? `${JSON.stringify(json())}\n` : `${text()}\n`);
}
