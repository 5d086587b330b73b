/** @module Running per-host work with bounded concurrency, one host's failure never stopping the others. */

/**
 * Calls `work` for every item, at most `limit` at a time, and resolves once all
 * are done. `work` should not throw; if it does, the rejection is collected and
 * rethrown after every item has run.
 */
export async function forEachConcurrent<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (err) {
        failures.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failures.length > 0) throw failures[0];
}
