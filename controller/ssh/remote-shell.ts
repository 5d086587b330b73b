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

/** The command that starts the agent bundle with the host's runtime. */
export function agentCommand(runtime: string, agentDir: string, args: string[]): string {
  const bundle = `${remotePathWord(agentDir)}/agent.mjs`;
  const isDeno = /(^|\/)deno$/.test(runtime);
  const launcher = isDeno ? `${shellQuote(runtime)} run --allow-all --quiet` : shellQuote(runtime);
  return [launcher, bundle, ...args.map((a) => (a === agentDir ? remotePathWord(a) : shellQuote(a)))].join(" ");
}
