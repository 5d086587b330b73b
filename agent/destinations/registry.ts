/** @module Every destination type, one line each. */
import { LifeboatError } from "../errors";
import type { Platform } from "../platform";
import { LocalDestination } from "./local";
import { RcloneDestination } from "./rclone";
import { S3Destination } from "./s3";
import type { Destination, DestinationSpec } from "./types";

/** Opens the destination a spec describes. @throws LifeboatError("CONFIG") for an unknown type. */
export function openDestination(platform: Platform, spec: DestinationSpec): Destination {
  switch (spec.type) {
    case "local":
      return new LocalDestination(platform, spec.path);
    case "s3":
      return new S3Destination(spec);
    case "rclone":
      return new RcloneDestination(platform, spec);
    default:
      throw new LifeboatError("CONFIG", `Cannot use destination type "${(spec as { type: string }).type}"`, { hint: "types are local, s3 and rclone" });
  }
}
