/** @module `${VAR}` and `${VAR:-default}` in inventory strings; `$${` is a literal `${`. */

/** The result of interpolating one string. */
export interface Interpolated {
  value: string;
  /** True when an environment variable's value went into it. */
  fromEnv: boolean;
}

/** Thrown (as a plain object) for an unset variable; the loader adds the location. */
export class UnsetVariable extends Error {
  constructor(readonly variable: string) {
    super(`environment variable ${variable} is not set`);
  }
}

/** Replaces `${VAR}` / `${VAR:-default}`; throws {@link UnsetVariable} for an unset variable without default. */
export function interpolate(text: string, env: Record<string, string | undefined>): Interpolated {
  let fromEnv = false;
  const value = text.replace(/\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === "$${") return "${";
    const v = env[name!];
    if (v !== undefined && v !== "") {
      fromEnv = true;
      return v;
    }
    if (fallback !== undefined) return fallback;
    throw new UnsetVariable(name!);
  });
  return { value, fromEnv };
}

/**
 * A hook command's `${VAR}` references, for the hook's environment: the
 * values of those set in `env` (which become secrets), and the command with
 * `$${` unescaped — `${VAR}` itself stays in the command, for the shell to
 * expand from the environment; the value never enters the command line.
 * `${VAR:-default}` with VAR unset is left to the shell's own default.
 * @throws {@link UnsetVariable} for an unset variable without default.
 */
export function hookReferences(command: string, env: Record<string, string | undefined>): { command: string; values: Record<string, string> } {
  const values: Record<string, string> = {};
  const unescaped = command.replace(/\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === "$${") return "${";
    const v = env[name!];
    if (v !== undefined && v !== "") values[name!] = v;
    else if (fallback === undefined) throw new UnsetVariable(name!);
    return match;
  });
  return { command: unescaped, values };
}
