/** @module Every destination type, one line each, and the functions that dispatch on a spec's `type`. */
import { LifeboatError } from "../../errors";
import type { Platform } from "../../platform";
import { FieldReader } from "../../validate";
import type { Destination, DestinationSpec, DestinationType, OpenOptions } from "../destination";
import { localDestination } from "./local";
import { presignedDestination } from "./presigned";
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
register(presignedDestination);

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

/** Reads a destination of the inventory: like {@link readDestination}, but refuses types that only the controller issues. */
export function readConfiguredDestination(r: FieldReader): DestinationSpec {
  const configurable = destinationTypeNames().filter((t) => !registry.get(t)!.issuedOnly);
  return registry.get(r.oneOf("type", configurable))!.read(r);
}

/**
 * The destination `spec` with a host's own fields (its scoped credentials) in
 * place of the configured ones, re-read by the type's rules.
 * @throws LifeboatError("CONFIG") when the type has no such fields; `where` names the inventory entry.
 */
export function withHostFields(spec: DestinationSpec, fields: Record<string, unknown>, where: string): DestinationSpec {
  const type = typeOf(spec);
  const allowed = type.hostFields ?? [];
  for (const name of Object.keys(fields)) {
    if (!allowed.includes(name)) {
      throw new LifeboatError("CONFIG", `${where}.${name}: a ${spec.type} destination ${allowed.length ? `takes only ${allowed.join(", ")} per host` : "has no per-host settings"}`, {
        hint: allowed.length ? `remove ${where}.${name}` : `remove ${where}; see docs/security.md for what ${spec.type} destinations can scope`,
      });
    }
  }
  return readDestination(FieldReader.of({ ...spec, ...fields } as Record<string, unknown>, where));
}

/** Whether hosts can have their own (scoped) credentials for a destination of this spec's type. */
export function takesHostCredentials(spec: DestinationSpec): boolean {
  return (typeOf(spec).hostFields ?? []).length > 0;
}

/** Download links for exactly `keys` (see {@link DestinationType.presign}), or null when the type cannot issue them. */
export async function presignedFor(spec: DestinationSpec, keys: string[]): Promise<DestinationSpec | null> {
  const type = typeOf(spec);
  return type.presign ? type.presign(spec, keys) : null;
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
export function openDestination(platform: Platform, spec: DestinationSpec, options: OpenOptions = {}): Promise<Destination> {
  return typeOf(spec).open(platform, spec, options);
}
