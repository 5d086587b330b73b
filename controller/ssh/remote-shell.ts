/** @module Building POSIX shell command lines for the host, safely quoted. */

/** Quotes one word for a POSIX shell. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_./=:@%+-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A remote path as a shell word: a leading `~/` becomes `"$HOME"/`, the rest is quoted. */
export function remotePathWord(path: string): string {
  if (path === "~") return '"$HOME"';
  if (path.startsWith("~/")) return `"$HOME"/${shellQuote(path.slice(2))}`;
  return shellQuote(path);
}

/**
 * What the agent may do under Deno (docs/security.md, "Deno permissions"):
 * read and write files (plugins' data, scratch, the agent directory), reach the
 * network (S3, databases, rclone's and Ollama's servers), read the environment
 * (hooks' variables, credentials handed to tools), run programs (hooks, tar,
 * pg_dump, docker exec, rclone) and read system facts (host name, CPUs, memory
 * for chunk workers). Never FFI, never imports from the network or npm, never a
 * prompt (a missing permission fails), no deno.json or lockfile of the host's.
 */
export const DENO_RUN_FLAGS = ["--allow-read", "--allow-write", "--allow-net", "--allow-env", "--allow-run", "--allow-sys", "--no-prompt", "--no-remote", "--no-npm", "--no-config", "--no-lock", "--quiet"];

/** The command that starts the agent bundle with the host's runtime (Deno with {@link DENO_RUN_FLAGS}, and no update check). */
export function agentCommand(runtime: { command: string; kind: "node" | "deno" }, agentDir: string, args: string[]): string {
  const bundle = `${remotePathWord(agentDir)}/agent.mjs`;
  const command = remotePathWord(runtime.command);
  const launcher = runtime.kind === "deno" ? `DENO_NO_UPDATE_CHECK=1 ${command} run ${DENO_RUN_FLAGS.join(" ")}` : command;
  return [launcher, bundle, ...args.map((a) => (a === agentDir ? remotePathWord(a) : shellQuote(a)))].join(" ");
}
