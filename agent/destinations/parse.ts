/** @module Reading a destination's settings (inventory or job spec) with errors that name the field. */
import type { FieldReader } from "../validate";
import type { DestinationSpec } from "./types";

/**
 * Reads and checks one destination mapping; the same rules apply in the
 * inventory (CONFIG errors) and in the agent's spec check (SPEC_REJECTED).
 */
export function readDestination(r: FieldReader): DestinationSpec {
  const type = r.oneOf("type", ["local", "s3", "rclone"] as const);
  let d: DestinationSpec;
  if (type === "local") {
    const path = r.string("path");
    if (!path.startsWith("/")) throw r.fail("path", `must be an absolute path on the host, got "${path}"`);
    d = { type, path };
  } else if (type === "s3") {
    d = {
      type,
      endpoint: r.string("endpoint", true),
      region: r.string("region", true) ?? "us-east-1",
      bucket: r.string("bucket"),
      prefix: r.string("prefix", true),
      accessKeyId: r.string("accessKeyId"),
      secretAccessKey: r.string("secretAccessKey"),
      sessionToken: r.string("sessionToken", true),
      forcePathStyle: r.value("forcePathStyle") as boolean | undefined,
      partSizeMiB: r.number("partSizeMiB", true),
    };
    if (d.endpoint && !/^https?:\/\//.test(d.endpoint)) throw r.fail("endpoint", `expected an http(s) URL, got "${d.endpoint}"`);
    if (d.forcePathStyle !== undefined && typeof d.forcePathStyle !== "boolean") throw r.fail("forcePathStyle", "expected true or false");
  } else {
    const remote = r.string("remote");
    if (!/^[A-Za-z0-9_-]+:/.test(remote)) throw r.fail("remote", `expected "name:path" (an rclone remote), got "${remote}"`);
    d = { type, remote, env: r.stringMap("env"), binary: r.string("binary", true) };
  }
  r.rejectUnknown();
  return d;
}
