/** @module The contract every destination passes (local, s3, rclone): one suite, run per implementation. */
import * as crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Destination, DestinationType } from "../core/storage/destination";

/** What a destination test provides: a fresh destination, and a way to see raw leftovers. */
export interface DestinationUnderTest {
  destination: Destination;
  /** Every raw name stored (including partial uploads), to prove failures leave nothing. */
  rawNames(): Promise<string[]>;
  /** Secret strings that must never appear in errors. */
  secrets: string[];
  cleanup(): Promise<void>;
}

async function* chunked(data: Buffer, size = 1024 * 1024): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function* failingAfter(bytes: number): AsyncIterable<Uint8Array> {
  yield crypto.randomBytes(bytes);
  throw new Error("source failed midway");
}

async function read(d: Destination, key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of d.get(key)) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** The destination types that {@link describeDestinationContract} was called for, so that a suite can prove none was left out. */
export const destinationTypesUnderContract = new Set<string>();

/** Registers the contract suite for one destination of `type` (`label` says how it is set up). */
export function describeDestinationContract(type: Pick<DestinationType, "type">, label: string, make: () => Promise<DestinationUnderTest>): void {
  destinationTypesUnderContract.add(type.type);
  describe(`destination contract: ${type.type} (${label})`, () => {
    let t: DestinationUnderTest;
    beforeAll(async () => {
      t = await make();
    });
    afterAll(async () => {
      await t?.destination.close();
      await t?.cleanup();
    });

    it("stores and returns objects of 0 bytes, a few bytes and 40 MiB streamed in chunks", async () => {
      for (const [key, size] of [
        ["h/s1/p/empty.age", 0],
        ["h/s1/p/small.age", 100],
        ["h/s1/p/big.age", 40 * 1024 * 1024],
      ] as const) {
        const data = crypto.randomBytes(size);
        expect(await t.destination.put(key, chunked(data))).toBe(size);
        expect((await read(t.destination, key)).equals(data)).toBe(true);
        expect(await t.destination.head(key)).toBe(size);
      }
    });

    it("overwrites an object", async () => {
      await t.destination.put("h/s2/p/a.age", chunked(Buffer.from("first")));
      await t.destination.put("h/s2/p/a.age", chunked(Buffer.from("second")));
      expect((await read(t.destination, "h/s2/p/a.age")).toString()).toBe("second");
    });

    it("lists exactly the complete objects under a prefix", async () => {
      await t.destination.put("list/a/x.age", chunked(Buffer.from("1")));
      await t.destination.put("list/a/y/z.age", chunked(Buffer.from("22")));
      await t.destination.put("list/b/x.age", chunked(Buffer.from("333")));
      const listed: string[] = [];
      for await (const o of t.destination.list("list/a/")) listed.push(`${o.key}:${o.size}`);
      expect(listed.sort()).toEqual(["list/a/x.age:1", "list/a/y/z.age:2"]);
    });

    it("reports a missing object as NOT_FOUND, head as null", async () => {
      await expect(read(t.destination, "nothing/here.age")).rejects.toMatchObject({ code: "NOT_FOUND" });
      expect(await t.destination.head("nothing/here.age")).toBeNull();
    });

    it("deletes objects, and deleting a missing one is fine", async () => {
      await t.destination.put("del/a.age", chunked(Buffer.from("x")));
      await t.destination.delete("del/a.age");
      expect(await t.destination.head("del/a.age")).toBeNull();
      await t.destination.delete("del/a.age");
    });

    it("deletes many objects at once where it offers to (deleteMany), exactly those named, missing ones fine", async () => {
      if (!t.destination.deleteMany) {
        // Only S3 has a batch delete; the others delete one object per request (a type that loses it fails here).
        expect(type.type).not.toBe("s3");
        return;
      }
      const keys = Array.from({ length: 1005 }, (_, i) => `many/c/${String(i).padStart(4, "0")}.age`);
      for (let at = 0; at < 1001; at += 50) await Promise.all(keys.slice(at, Math.min(at + 50, 1001)).map((key) => t.destination.put(key, chunked(Buffer.from(key)))));
      await t.destination.put("many/kept.age", chunked(Buffer.from("kept")));
      // 1,005 keys: two requests of S3's DeleteObjects, four of the keys never stored.
      expect(await t.destination.deleteMany(keys)).toEqual([]);
      const left: string[] = [];
      for await (const o of t.destination.list("many/")) left.push(o.key);
      expect(left).toEqual(["many/kept.age"]);
      expect(await t.destination.deleteMany([])).toEqual([]);
    });

    it("stores concurrent puts into folders that do not exist yet (chunks of one backup, several at once)", async () => {
      const keys = Array.from({ length: 24 }, (_, i) => `conc/${i % 2}/${String(i % 6).padStart(2, "0")}/${i}.age`);
      await Promise.all(keys.map((key) => t.destination.put(key, chunked(Buffer.from(key)))));
      const stored: string[] = [];
      for await (const o of t.destination.list("conc/")) stored.push(o.key);
      expect(stored.sort()).toEqual([...keys].sort());
    });

    it("leaves nothing behind when the source fails midway", async () => {
      const before = await t.rawNames();
      await expect(t.destination.put("fail/obj.age", failingAfter(3 * 1024 * 1024))).rejects.toThrow(/source failed midway/);
      expect(await t.destination.head("fail/obj.age")).toBeNull();
      expect(await t.rawNames()).toEqual(before);
    });

    it("leaves nothing behind when the upload is aborted", async () => {
      const before = await t.rawNames();
      const controller = new AbortController();
      async function* slow(): AsyncIterable<Uint8Array> {
        yield crypto.randomBytes(1024 * 1024);
        controller.abort();
        yield crypto.randomBytes(1024 * 1024);
        yield crypto.randomBytes(1024 * 1024);
      }
      await expect(t.destination.put("abort/obj.age", slow(), controller.signal)).rejects.toThrow();
      expect(await t.destination.head("abort/obj.age")).toBeNull();
      expect(await t.rawNames()).toEqual(before);
    });

    it("refuses keys that could escape the prefix", async () => {
      for (const key of ["../x.age", "/abs.age", "a//b.age", "a/./b.age", ""]) {
        await expect(t.destination.put(key, chunked(Buffer.from("x")))).rejects.toMatchObject({ code: "DESTINATION" });
      }
    });

    it("never shows a credential in an error", async () => {
      const errors: string[] = [];
      for (const attempt of [() => read(t.destination, "nothing/here.age"), () => t.destination.put("../bad", chunked(Buffer.from("x")))]) {
        try {
          await attempt();
        } catch (err) {
          errors.push(`${(err as Error).message} ${(err as { hint?: string }).hint ?? ""}`);
        }
      }
      for (const secret of t.secrets) for (const e of errors) expect(e).not.toContain(secret);
    });
  });
}

/** What a read-only destination test provides: a writable store to put objects in, and links issued for some of its keys. */
export interface ReadOnlyDestinationUnderTest {
  /** Where the objects are put (with full credentials). */
  store: Destination;
  /** Opens the read-only destination for exactly `keys`. */
  issue(keys: string[]): Promise<{ destination: Destination; secrets: string[] }>;
  cleanup(): Promise<void>;
}

/** Registers the contract suite of a read-only destination type (download links issued by the controller). */
export function describeReadOnlyDestinationContract(type: Pick<DestinationType, "type">, label: string, make: () => Promise<ReadOnlyDestinationUnderTest>): void {
  destinationTypesUnderContract.add(type.type);
  describe(`destination contract: ${type.type} (${label}, read-only)`, () => {
    let t: ReadOnlyDestinationUnderTest;
    beforeAll(async () => {
      t = await make();
    });
    afterAll(async () => {
      await t?.store.close();
      await t?.cleanup();
    });

    it("returns the objects it was given links for: 0 bytes, a few bytes, 40 MiB", async () => {
      const objects = [
        ["ro/s1/p/empty.age", crypto.randomBytes(0)],
        ["ro/s1/p/small.age", crypto.randomBytes(100)],
        ["ro/s1/p/big.age", crypto.randomBytes(40 * 1024 * 1024)],
      ] as const;
      for (const [key, data] of objects) await t.store.put(key, chunked(data));
      const { destination } = await t.issue(objects.map(([key]) => key));
      for (const [key, data] of objects) {
        expect((await read(destination, key)).equals(data)).toBe(true);
        expect(await destination.head(key)).toBe(data.length);
      }
    });

    it("reports a linked object that does not exist as NOT_FOUND, and refuses an object it has no link for", async () => {
      await t.store.put("ro/s2/p/other.age", chunked(Buffer.from("x")));
      const { destination } = await t.issue(["ro/s2/p/missing.age"]);
      await expect(read(destination, "ro/s2/p/missing.age")).rejects.toMatchObject({ code: "NOT_FOUND" });
      expect(await destination.head("ro/s2/p/missing.age")).toBeNull();
      await expect(read(destination, "ro/s2/p/other.age")).rejects.toThrow(/no link for it/);
    });

    it("refuses to store, list or delete, and names no link in its errors", async () => {
      await t.store.put("ro/s3/p/a.age", chunked(Buffer.from("keep")));
      const { destination, secrets } = await t.issue(["ro/s3/p/a.age"]);
      const errors: string[] = [];
      for (const attempt of [
        () => destination.put("ro/s3/p/a.age", chunked(Buffer.from("overwrite"))),
        () => destination.delete("ro/s3/p/a.age"),
        async () => {
          for await (const _ of destination.list("ro/")) void _;
        },
      ]) {
        const err = await attempt().then(
          () => null,
          (e: Error) => e,
        );
        expect(err).toMatchObject({ code: "DESTINATION" });
        errors.push(`${err!.message} ${(err as { hint?: string }).hint ?? ""}`);
      }
      expect((await read(t.store, "ro/s3/p/a.age")).toString()).toBe("keep");
      for (const secret of secrets) for (const e of errors) expect(e).not.toContain(secret);
    });
  });
}
