// age streams against the stock age CLI (v1.1): interop both ways, native and pure-JS ciphers, every tampering refused.
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { currentPlatform } from "../../../platform/current";
import { type Platform } from "../../platform";
import { decryptStream } from "./decrypt";
import { encryptStream } from "./encrypt";
import { createHeader } from "./header";
import { generateIdentity } from "../../age-keys";
import { CHUNK_SIZE, chunkNonce, payloadKey, SEALED_CHUNK_SIZE } from "./stream";

const native = currentPlatform();
const pureJs: Platform = { ...native, chacha20poly1305: null };
const ciphers: [string, Platform][] = [
  ["native", native],
  ["pure-JS", pureJs],
];

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** `data` in pieces of `size` bytes, as a source would deliver it. */
async function* pieces(data: Uint8Array, size = 100_000): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

describe("age streams", () => {
  let dir: string;
  let identity: string;
  let recipient: string;
  let identityFile: string;
  const ageDecrypt = (sealed: Uint8Array, file = identityFile) => execFileSync("age", ["-d", "-i", file], { input: sealed, maxBuffer: 1 << 28, stdio: "pipe" });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-age-"));
    ({ identity, recipient } = await generateIdentity());
    identityFile = path.join(dir, "identity.txt");
    fs.writeFileSync(identityFile, `${identity}\n`, { mode: 0o600 });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const size of [0, 1, 65535, 65536, 65537, 3 * 65536, 5 * 1024 * 1024 + 17]) {
    it(`encrypts ${size} bytes so that the age CLI and decryptStream return them, with either cipher`, async () => {
      const data = crypto.randomBytes(size);
      for (const [, p] of ciphers) {
        const sealed = await collect(encryptStream(p, [recipient], pieces(data)));
        expect(ageDecrypt(sealed).equals(data)).toBe(true);
        expect((await collect(decryptStream(p, identity, pieces(sealed, 65536)))).equals(data)).toBe(true);
      }
    });
  }

  it("writes exactly one chunk per 64 KiB and a full final chunk when the size is a multiple of 64 KiB", async () => {
    const sealed = await collect(encryptStream(native, [recipient], pieces(crypto.randomBytes(2 * CHUNK_SIZE))));
    const headerAndNonce = sealed.indexOf("\n--- ") + sealed.subarray(sealed.indexOf("\n--- ") + 1).indexOf("\n") + 2 + 16;
    expect(sealed.length - headerAndNonce).toBe(2 * SEALED_CHUNK_SIZE);
  });

  it("produces the same plaintext whatever the sizes of the pieces it is fed", async () => {
    const data = crypto.randomBytes(200_000);
    for (const size of [1, 511, 65536, 65537, 1 << 20]) {
      const sealed = await collect(encryptStream(native, [recipient], pieces(data, size)));
      expect(ageDecrypt(sealed).equals(data)).toBe(true);
      expect((await collect(decryptStream(native, identity, pieces(sealed, size)))).equals(data)).toBe(true);
    }
  });

  it("hands its output on in batches of about 1 MiB, not one piece per chunk", async () => {
    const sizes: number[] = [];
    for await (const c of encryptStream(native, [recipient], pieces(crypto.randomBytes(4 << 20), 4096))) sizes.push(c.length);
    expect(sizes.length).toBeLessThan(8);
  });

  it("decrypts what the age CLI encrypted, with either cipher, even one byte at a time", async () => {
    const data = crypto.randomBytes(300_000);
    const sealed = execFileSync("age", ["-r", recipient], { input: data });
    for (const [, p] of ciphers) {
      expect((await collect(decryptStream(p, identity, pieces(sealed, 7777)))).equals(data)).toBe(true);
    }
    const small = execFileSync("age", ["-r", recipient], { input: "hello" });
    expect((await collect(decryptStream(native, identity, pieces(small, 1)))).toString()).toBe("hello");
  });

  it("decrypts with one cipher what the other encrypted", async () => {
    const data = crypto.randomBytes(150_000);
    const byNative = await collect(encryptStream(native, [recipient], pieces(data)));
    const byPureJs = await collect(encryptStream(pureJs, [recipient], pieces(data)));
    expect((await collect(decryptStream(pureJs, identity, pieces(byNative)))).equals(data)).toBe(true);
    expect((await collect(decryptStream(native, identity, pieces(byPureJs)))).equals(data)).toBe(true);
  });

  it("encrypts to several recipients, each of which can decrypt with the CLI and with decryptStream", async () => {
    const escrow = await generateIdentity();
    const escrowFile = path.join(dir, "escrow.txt");
    fs.writeFileSync(escrowFile, `${escrow.identity}\n`, { mode: 0o600 });
    const sealed = await collect(encryptStream(native, [recipient, escrow.recipient], pieces(Buffer.from("escrow"))));
    expect(ageDecrypt(sealed).toString()).toBe("escrow");
    expect(ageDecrypt(sealed, escrowFile).toString()).toBe("escrow");
    expect((await collect(decryptStream(native, identity, pieces(sealed)))).toString()).toBe("escrow");
    expect((await collect(decryptStream(native, escrow.identity, pieces(sealed)))).toString()).toBe("escrow");
  });

  it("refuses to encrypt to no recipient or to a malformed one, with CONFIG", async () => {
    await expect(collect(encryptStream(native, [], pieces(Buffer.from("x"))))).rejects.toMatchObject({ code: "CONFIG" });
    await expect(collect(encryptStream(native, [`${recipient}x`], pieces(Buffer.from("x"))))).rejects.toMatchObject({ code: "CONFIG" });
  });

  it("passes the source's own error through instead of ending the stream", async () => {
    async function* failing(): AsyncIterable<Uint8Array> {
      yield new Uint8Array(200_000);
      throw new Error("disk read failed");
    }
    await expect(collect(encryptStream(native, [recipient], failing()))).rejects.toThrow("disk read failed");
  });

  describe("refuses damaged streams with INTEGRITY", () => {
    const size = 200_000; // three full chunks and a partial one
    let sealed: Buffer;
    let payloadStart: number;
    beforeAll(async () => {
      sealed = await collect(encryptStream(native, [recipient], pieces(crypto.randomBytes(size))));
      payloadStart = sealed.length - (3 * SEALED_CHUNK_SIZE + (size - 3 * CHUNK_SIZE) + 16);
    });
    const flip = (b: Buffer, at: number) => {
      const copy = Buffer.from(b);
      copy[at] = copy[at]! ^ 1;
      return copy;
    };
    const cases: [string, () => Buffer][] = [
      ["a flipped payload byte", () => flip(sealed, sealed.length - 100)],
      ["a flipped byte in a recipient stanza", () => flip(sealed, 40)],
      ["a flipped byte in the header MAC", () => flip(sealed, sealed.indexOf("\n--- ") + 10)],
      ["a flipped byte in the payload nonce", () => flip(sealed, payloadStart - 5)],
      ["a truncated last chunk", () => sealed.subarray(0, sealed.length - 10)],
      ["a missing last chunk", () => sealed.subarray(0, payloadStart + 3 * SEALED_CHUNK_SIZE)],
      ["a stream cut inside the header", () => sealed.subarray(0, 30)],
      ["a stream that ends right after the nonce", () => sealed.subarray(0, payloadStart)],
      ["two swapped chunks", () => Buffer.concat([sealed.subarray(0, payloadStart), sealed.subarray(payloadStart + SEALED_CHUNK_SIZE, payloadStart + 2 * SEALED_CHUNK_SIZE), sealed.subarray(payloadStart, payloadStart + SEALED_CHUNK_SIZE), sealed.subarray(payloadStart + 2 * SEALED_CHUNK_SIZE)])],
      ["one appended byte", () => Buffer.concat([sealed, Buffer.from("x")])],
      ["an appended copy of the last chunk", () => Buffer.concat([sealed, sealed.subarray(payloadStart + 3 * SEALED_CHUNK_SIZE)])],
    ];
    for (const [name, damage] of cases) {
      it(`refuses ${name}`, async () => {
        await expect(collect(decryptStream(native, identity, pieces(damage())))).rejects.toMatchObject({ code: "INTEGRITY" });
      });
    }

    it("refuses an empty final chunk after a full one, as the age CLI does", async () => {
      const { header, fileKey } = await createHeader([recipient]);
      const nonce = crypto.randomBytes(16);
      const key = payloadKey(native, fileKey, nonce);
      const seal = native.chacha20poly1305!.seal;
      const forged = Buffer.concat([header, nonce, seal(key, chunkNonce(0, false), new Uint8Array(CHUNK_SIZE)), seal(key, chunkNonce(1, true), new Uint8Array(0))]);
      expect(() => ageDecrypt(forged)).toThrow(/last chunk is empty/);
      await expect(collect(decryptStream(native, identity, pieces(forged)))).rejects.toMatchObject({ code: "INTEGRITY" });
    });

    it("yields no plaintext from a chunk that fails authentication", async () => {
      const got: Uint8Array[] = [];
      const damaged = flip(sealed, payloadStart + 10);
      await expect(
        (async () => {
          for await (const c of decryptStream(native, identity, pieces(damaged))) got.push(c);
        })(),
      ).rejects.toMatchObject({ code: "INTEGRITY" });
      expect(got).toEqual([]);
    });

    it("refuses an identity that is not a recipient, naming the cause", async () => {
      const stranger = await generateIdentity();
      const failure = collect(decryptStream(native, stranger.identity, pieces(sealed)));
      await expect(failure).rejects.toMatchObject({ code: "INTEGRITY" });
      await expect(failure).rejects.toThrow(/not one of its recipients/);
    });

    it("refuses a malformed identity with KEYS, without echoing it", async () => {
      // Its last character changed (to one it is not: a random identity may end in "Q" already).
      const bad = `${identity.slice(0, -1)}${identity.endsWith("Q") ? "P" : "Q"}`;
      const failure = collect(decryptStream(native, bad, pieces(sealed)));
      await expect(failure).rejects.toMatchObject({ code: "KEYS" });
      await failure.catch((err: Error) => expect(err.message).not.toContain(bad.slice(16)));
    });
  });
});
