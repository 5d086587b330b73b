/** @module The dashboard's token: compared in constant time, never logged. */
import * as crypto from "node:crypto";

/** Whether `candidate` is `token`. Constant time in the token's content, whatever the candidate's length. */
export function tokenMatches(candidate: string, token: string): boolean {
  // Digests first: equal lengths for timingSafeEqual, whatever was sent.
  const digest = (s: string) => crypto.createHash("sha256").update(s).digest();
  return crypto.timingSafeEqual(digest(candidate), digest(token));
}

/** Whether `header` (an Authorization header value) carries `token`. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m !== null && tokenMatches(m[1]!, token);
}
