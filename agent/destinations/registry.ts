/** @module Every destination type, one line each. */
import { LifeboatError } from "../errors";
import type { Platform } from "../platform";
import { LocalDestination } from "./local";
import { RcloneDestination } from "./rclone";
import type { Destination, DestinationSpec } from "./types";

/**
 * Opens the destination a spec describes. The S3 client is loaded only for s3
 * destinations: it is most of the agent's code, and loading it slows every job's start.
 * @throws LifeboatError("CONFIG") for an unknown type.
 */
export async function openDestination(platform: Platform, spec: DestinationSpec): Promise<Destination> {
  switch (spec.type) {
    case "local":
      return new LocalDestination(platform, spec.path);
    case "s3":
      return new (await import("./s3")).S3Destination(spec);
    case "rclone":
      return new RcloneDestination(platform, spec);
    default:
      throw new LifeboatError("CONFIG", `Cannot use destination type "${(spec as { type: string }).type}"`, { hint: "types are local, s3 and rclone" });
  }
}
