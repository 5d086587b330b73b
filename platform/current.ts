/** @module Picks the platform for the runtime Lifeboat runs on: the one implementation of `core/platform.ts`. */
import type { Platform } from "../core/platform";
import { nodePlatform } from "./node";

/** The platform of the current runtime. Deno runs the Node implementation through its `node:` layer. */
export function currentPlatform(): Platform {
  return nodePlatform;
}
