/**
 * @module Browser sessions of a dashboard with a token: the token is given
 * once on the sign-in page and exchanged for a random session id in an
 * HttpOnly, SameSite=Strict cookie. Forms that change something carry a
 * CSRF token bound to the session. Sessions live in memory (a restart signs
 * everyone out), at most {@link MAX_SESSIONS} at once, each for 12 hours.
 */
import * as crypto from "node:crypto";
import { tokenMatches } from "./token";

/** The session cookie's name. */
export const SESSION_COOKIE = "lifeboat_session";
/** How long a session lasts. */
export const SESSION_MS = 12 * 3_600_000;
/** Sessions kept at once; signing in beyond that ends the oldest. */
export const MAX_SESSIONS = 1000;

/** The sessions of one dashboard process. */
export class Sessions {
  private readonly sessions = new Map<string, number>();
  private readonly secret = crypto.randomBytes(32);

  constructor(private readonly token: string) {}

  /** A new session id when `candidate` is the token, else null. */
  signIn(candidate: string, now: number): string | null {
    if (!tokenMatches(candidate, this.token)) return null;
    for (const [id, expires] of this.sessions) if (expires <= now) this.sessions.delete(id);
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = crypto.randomBytes(32).toString("base64url");
    this.sessions.set(id, now + SESSION_MS);
    return id;
  }

  /** Whether `id` is a live session. */
  valid(id: string | undefined, now: number): boolean {
    if (!id) return false;
    const expires = this.sessions.get(id);
    if (expires === undefined) return false;
    if (expires > now) return true;
    this.sessions.delete(id);
    return false;
  }

  signOut(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  /** The CSRF token of session `id` (an HMAC of it: nothing to store). */
  csrf(id: string): string {
    return crypto.createHmac("sha256", this.secret).update(id).digest("base64url");
  }

  /** Whether `value` is session `id`'s CSRF token. */
  csrfMatches(id: string, value: string | undefined): boolean {
    return value !== undefined && tokenMatches(value, this.csrf(id));
  }
}
