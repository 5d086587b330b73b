/** @module The dashboard's bearer token: compared in constant time, never logged. */
import * as crypto from "node:crypto";

/** Whether `header` (an Authorization header value) carries `token`. Constant time in the token's content. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!m) return false;
  // Digests first: equal lengths for timingSafeEqual, whatever was sent.
  const digest = (s: string) => crypto.createHash("sha256").update(s).digest();
  return crypto.timingSafeEqual(digest(m[1]!), digest(token));
}
