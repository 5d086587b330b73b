/** @module How often and when the daemon tries a failed host's backup again: exponential backoff, bounded. */

/** A failed backup is tried again, up to `attempts` in all, after growing waits. */
export interface RetryPolicy {
  /** Attempts in all, the first included (1: never retry). */
  attempts: number;
  /** The wait after the first failure, in ms. */
  firstDelayMs: number;
  /** Each further wait is this many times the previous one. */
  factor: number;
  /** No wait is longer than this, in ms. */
  maxDelayMs: number;
}

/** 3 attempts: 1 minute after the first failure, 5 minutes after the second. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, firstDelayMs: 60_000, factor: 5, maxDelayMs: 3_600_000 };

/**
 * How long to wait after attempt `failed` (1-based) failed before the next
 * one, or undefined when that was the last attempt. Waits grow by `factor`
 * and never exceed `maxDelayMs`.
 */
export function retryDelayMs(failed: number, policy: RetryPolicy): number | undefined {
  if (failed >= policy.attempts) return undefined;
  return Math.min(policy.maxDelayMs, policy.firstDelayMs * policy.factor ** (failed - 1));
}
