/** @module The agent's version, injected by the build (`scripts/build.mjs`). */
declare const __LIFEBOAT_VERSION__: string | undefined;

/** The package version this agent was built from ("dev" when run from source). */
export const AGENT_VERSION: string = typeof __LIFEBOAT_VERSION__ === "string" ? __LIFEBOAT_VERSION__ : "dev";
