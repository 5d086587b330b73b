/** @module Command-line parsing: global options plus one command's options. */
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { LifeboatError } from "../core/errors";

/** Options every command accepts. */
export interface GlobalOptions {
  inventory: string;
  state: string;
  json: boolean;
}

/** Where things are when nobody says otherwise. */
export function defaultGlobals(env: NodeJS.ProcessEnv = process.env): Omit<GlobalOptions, "json"> {
  const stateHome = env.XDG_STATE_HOME || path.join(os.homedir(), ".local", "state");
  return {
    inventory: env.LIFEBOAT_INVENTORY || "inventory/fleet.yaml",
    state: env.LIFEBOAT_STATE || path.join(stateHome, "lifeboat"),
  };
}

const globalOptions = {
  inventory: { type: "string" },
  state: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

/**
 * Global options may come before the command, as in git and restic
 * (`controller --state DIR init`): returns the command's name and its
 * arguments with those options moved after it, where every command parses them.
 * `--help`/`--version` before any command are left as the name for the dispatcher.
 * @throws LifeboatError("USAGE") for an option before the command that is not global.
 */
export function commandFirst(argv: string[]): { name: string | undefined; rest: string[] } {
  const leading: string[] = [];
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith("-"); i++) {
    const arg = argv[i]!;
    const flag = arg.replace(/^--?/, "").split("=")[0]!;
    if (arg === "--help" || arg === "-h" || arg === "--version") return { name: arg, rest: [] };
    const option = (globalOptions as Record<string, { type: string }>)[flag];
    if (!option || !arg.startsWith("--")) {
      throw new LifeboatError("USAGE", `Cannot parse the command line: "${arg}" before the command is not a global option`, { hint: "global options are --inventory FILE, --state DIR and --json; command options go after the command" });
    }
    leading.push(arg);
    if (option.type === "string" && !arg.includes("=")) {
      if (i + 1 >= argv.length) throw new LifeboatError("USAGE", `Cannot parse the command line: ${arg} needs a value`, { hint: `${arg} ${flag === "state" ? "DIR" : "FILE"}` });
      leading.push(argv[++i]!);
    }
  }
  return { name: argv[i], rest: [...argv.slice(i + 1), ...leading] };
}

/**
 * Parses `argv` for a command whose own options are `options`, and at most
 * `maxPositionals` plain arguments (an action and its operand, e.g. `keys import FILE`).
 * @throws LifeboatError("USAGE")
 */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: O, usage: string, maxPositionals = 0) {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...globalOptions, ...options }, allowPositionals: true, strict: true });
    if (positionals.length > maxPositionals) throw new Error(`unexpected argument "${positionals[maxPositionals]}"`);
    const defaults = defaultGlobals();
    const v = values as Record<string, unknown>;
    const globals: GlobalOptions = {
      inventory: path.resolve((v.inventory as string | undefined) ?? defaults.inventory),
      state: path.resolve((v.state as string | undefined) ?? defaults.state),
      json: v.json === true,
    };
    return { globals, values: values as { [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : O[K] extends { multiple: true } ? string[] : string }, positionals, help: v.help === true };
  } catch (err) {
    if (err instanceof LifeboatError) throw err;
    throw new LifeboatError("USAGE", `Cannot parse the command line: ${(err as Error).message.split(". ")[0]}`, { hint: usage.split("\n")[0] });
  }
}

/** Splits `a,b` and repeated flags into a list. */
export function listOption(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
  return items;
}

/** The options of commands that work on hosts: `--host H[,H2] | --group G | --all`, and `--accept-new-host-key`. */
export const hostOptions = {
  host: { type: "string", multiple: true },
  group: { type: "string", multiple: true },
  all: { type: "boolean" },
  "accept-new-host-key": { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

/** The host selection given by {@link hostOptions}, as `selectHosts` takes it. */
export function hostSelection(values: { host?: string[]; group?: string[]; all?: boolean }): { host?: string[]; group?: string[]; all: boolean } {
  return { host: listOption(values.host), group: listOption(values.group), all: values.all === true };
}
