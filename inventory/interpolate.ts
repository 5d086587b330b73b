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
