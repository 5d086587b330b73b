/** @module Signing job specs with the controller's Ed25519 key. */
import * as crypto from "node:crypto";
import { canonicalJson } from "../../core/canonical-json";
import type { JobSpec, SignedSpec } from "../../core/spec";

/** Default lifetime of a spec: long enough to connect and install, short enough to be useless later. */
export const SPEC_LIFETIME_MS = 10 * 60 * 1000;

/** Fills in the freshness fields every spec carries. */
export function freshness(now = new Date(), lifetimeMs = SPEC_LIFETIME_MS) {
  return {
    issuedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + lifetimeMs).toISOString(),
    nonce: crypto.randomBytes(16).toString("hex"),
  };
}

/** Signs the canonical JSON of `spec`. */
export function signSpec(spec: JobSpec, signingKey: crypto.KeyObject): SignedSpec {
  const signature = crypto.sign(null, Buffer.from(canonicalJson(spec)), signingKey).toString("base64");
  return { format: "lifeboat-job/1", spec, signature };
}
