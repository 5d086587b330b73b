/** @module Certificates about to expire, read from a snapshot's letsencrypt manifest entries. */
import type { CertificateFacts } from "../plugins/letsencrypt/letsencrypt";
import { expiryWarnings } from "../plugins/letsencrypt/letsencrypt";
import type { SnapshotView } from "./ledger/ledger";

/** Warnings for the snapshot's certificates that expire within their plugin's warnDays (default 14). */
export function certificateWarnings(snapshot: SnapshotView, now = new Date()): string[] {
  return snapshot.artifacts
    .filter((a) => a.plugin === "letsencrypt")
    .flatMap((a) => expiryWarnings((a.metadata.certificates ?? []) as CertificateFacts[], Number(a.metadata.warnDays ?? 14), now).map((w) => `[${a.instance}] ${w}`));
}
