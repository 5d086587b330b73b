/** @module Bridging the pipeline's async iterables to the web streams some libraries want. */
import type { ByteStream } from "../platform";

/** A web ReadableStream that pulls from `data` (errors and cancellation propagate). */
export function toWebStream(data: ByteStream): ReadableStream<Uint8Array> {
  const iterator = data[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (err) {
        controller.error(err);
      }
    },
    async cancel(reason) {
      await iterator.return?.(reason);
    },
  });
}
