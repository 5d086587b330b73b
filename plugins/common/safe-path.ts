/** @module Path checks for restores: nothing may land outside its target. */
import { LifeboatError } from "../../core/errors";

/** Splits a relative archive path into segments, refusing `..`, `.`, empty segments and absolute paths. */
export function safeSegments(name: string, what: string): string[] {
  if (name.startsWith("/")) throw new LifeboatError("RESTORE", `Refusing archive entry "${name}" of ${what}: absolute path`);
  const segments = name.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) {
    throw new LifeboatError("RESTORE", `Refusing archive entry "${name}" of ${what}: it contains "..", "." or an empty segment`);
  }
  return segments;
}

/** The parent directory of an absolute path. */
export function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** The last segment of a path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Where symlink `link` (an absolute path) points: its target resolved against the link's directory, with `.` and `..` folded. */
export function linkDestination(link: string, target: string): string {
  const out: string[] = [];
  for (const segment of `${target.startsWith("/") ? "" : parentOf(link)}/${target}`.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") out.pop();
    else out.push(segment);
  }
  return `/${out.join("/")}`;
}
