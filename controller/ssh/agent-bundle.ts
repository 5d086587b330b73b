/** @module The agent bundle the controller installs on hosts (`dist/agent.mjs`). */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import { LifeboatError } from "../../core/errors";

/** The agent bundle's bytes and their SHA-256 (the installed agent's identity on a host). */
export interface AgentBundle {
  path: string;
  bytes: Buffer;
  sha256: string;
}

let cached: AgentBundle | undefined;

/**
 * Loads `dist/agent.mjs` (or `$LIFEBOAT_AGENT_BUNDLE`): the agent bundle beside
 * `dist/controller.mjs`, the bundle this module runs in.
 * @throws LifeboatError("CONFIG") when it has not been built.
 */
export function agentBundle(): AgentBundle {
  if (cached) return cached;
  const path = process.env.LIFEBOAT_AGENT_BUNDLE ?? fileURLToPath(new URL("agent.mjs", import.meta.url));
  if (!fs.existsSync(path)) {
    throw new LifeboatError("CONFIG", `Cannot find the agent bundle "${path}"`, { hint: "build it: npm run build" });
  }
  const bytes = fs.readFileSync(path);
  cached = { path, bytes, sha256: crypto.createHash("sha256").update(bytes).digest("hex") };
  return cached;
}
