/** @module How the dashboard's command lines start: `controller` with the inventory and state directory the dashboard itself was started with. */
import * as path from "node:path";
import { defaultGlobals, type GlobalOptions } from "../cli-args";
import { shellQuote } from "../ssh/remote-shell";

/** `controller`, plus `--inventory FILE` and `--state DIR` when they are not what a plain `controller` in this directory would use. */
export function commandPrefix(globals: Pick<GlobalOptions, "inventory" | "state">): string {
  const defaults = defaultGlobals();
  const words = ["controller"];
  if (path.resolve(defaults.inventory) !== globals.inventory) words.push("--inventory", shellQuote(globals.inventory));
  if (path.resolve(defaults.state) !== globals.state) words.push("--state", shellQuote(globals.state));
  return words.join(" ");
}
