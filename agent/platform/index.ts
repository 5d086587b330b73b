/** @module Picks the platform for the runtime the agent runs on. */
import { nodePlatform } from "./node";
import type { Platform } from "./types";

export type { ByteStream, ChildProcess, FileInfo, Platform, RunResult, SpawnOptions } from "./types";

/** The platform of the current runtime. Deno runs the Node implementation through its `node:` layer. */
export function currentPlatform(): Platform {
  return nodePlatform;
}
