/** @module How the controller itself reads a destination: with its own credentials, or, for a directory on a host, over that host's SSH login. */
import type { Destination } from "../../core/storage/destination";
import { openDestination } from "../../core/storage/destinations/registry";
import type { HostConfig } from "../../inventory/schema";
import { currentPlatform } from "../../platform/current";
import type { ControllerContext } from "../context";
import { openHostDirectory } from "../ssh/host-directory";

/**
 * Opens destination `name` for the controller to read: S3 and rclone with the
 * inventory's (the controller's) credentials; a `local` destination, which is a
 * directory on `host` (the host whose snapshots are read), over SFTP as that
 * host's SSH user — read only.
 */
export async function openForReading(ctx: ControllerContext, name: string, host: HostConfig): Promise<Destination> {
  const spec = ctx.destinationSpec(name);
  return spec.type === "local" ? openHostDirectory(host, spec) : openDestination(currentPlatform(), spec);
}
