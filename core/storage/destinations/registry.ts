/** @module Every destination type, one line each, and the functions that dispatch on a spec's `type`. */
import { LifeboatError } from "../../errors";
import type { Platform } from "../../platform";
import type { FieldReader } from "../../validate";
import type { Destination, DestinationSpec, DestinationType } from "../destination";
import { localDestination } from "./local";
import { rcloneDestination } from "./rclone";
import { s3Destination } from "./s3";

const registry = new Map<string, DestinationType>();

function register<S extends DestinationSpec>(type: DestinationType<S>): void {
  if (registry.has(type.type)) throw new LifeboatError("INTERNAL", `destination type "${type.type}" is registered twice`);
  registry.set(type.type, type as unknown as DestinationType);
}

register(localDestination);
register(s3Destination);
register(rcloneDestination);

/** Names of all destination types. */
export function destinationTypeNames(): string[] {
  return [...registry.keys()];
}

function typeOf(spec: DestinationSpec): DestinationType {
  const type = registry.get(spec.type);
  if (!type) throw new LifeboatError("CONFIG", `Cannot use destination type "${spec.type}"`, { hint: `types are ${destinationTypeNames().join(", ")}` });
  return type;
}

/**
 * Reads and checks one destination mapping; the same rules apply in the
 * inventory (CONFIG errors) and in the agent's spec check (SPEC_REJECTED).
 */
export function readDestination(r: FieldReader): DestinationSpec {
  return registry.get(r.oneOf("type", destinationTypeNames()))!.read(r);
}

/** How people recognise a destination, without credentials. */
export function describeDestination(spec: DestinationSpec): string {
  return typeOf(spec).describe(spec);
}

/** The values in a destination spec that must never be printed. */
export function destinationSecrets(spec: DestinationSpec): string[] {
  return typeOf(spec).secrets(spec).filter((s) => s !== "");
}

/** Opens the destination a spec describes. @throws LifeboatError("CONFIG") for an unknown type. */
export function openDestination(platform: Platform, spec: DestinationSpec): Promise<Destination> {
  return typeOf(spec).open(platform, spec);
}
