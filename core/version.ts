/** @module Lifeboat's release version, injected by the build (`scripts/build.mjs`) into the agent and controller bundles. */
declare const __LIFEBOAT_VERSION__: string | undefined;

/** The package version these programs were built from ("dev" when run from source). */
export const LIFEBOAT_VERSION: string = typeof __LIFEBOAT_VERSION__ === "string" ? __LIFEBOAT_VERSION__ : "dev";
