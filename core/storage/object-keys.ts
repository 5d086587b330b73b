/** @module Object keys: relative, `/`-separated, no `..`, nothing that could escape a prefix or a directory. */
import { LifeboatError } from "../errors";

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Returns `key` when it is a safe object key. @throws LifeboatError("DESTINATION") otherwise. */
export function checkKey(key: string): string {
  const segments = key.split("/");
  const bad = key === "" || key.startsWith("/") || segments.some((s) => s === "" || s === "." || s === ".." || !SEGMENT.test(s));
  if (bad) throw new LifeboatError("DESTINATION", `Cannot use object key "${key.slice(0, 200)}": keys are relative paths of [A-Za-z0-9._-] segments without "..", "." or empty parts`);
  return key;
}

/** A prefix for listing: empty, or a key-like path (a trailing `/` is allowed). */
export function checkPrefix(prefix: string): string {
  if (prefix === "") return prefix;
  checkKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  return prefix;
}
