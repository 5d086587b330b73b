// age streams against the stock age CLI (v1.1): interop both ways, every tampering refused.
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { currentPlatform, type Platform } from "../platform";
import { decryptStream } from "./age-decrypt";
import { encryptStream } from "./age-encrypt";

const platform = currentPlatform();
const pureJs: Platform = { ...platform, chacha20poly1305: null };

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function* chunks(data: Buffer, size = 100_000): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
  if (data.length === 0) return;
}

describe("age streams", () => {
  let dir: string;
  let identity: string;
  let recipient: string;
  let identityFile: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-age-"));
    identity = await generateX25519Identity();
    recipient = await identityToRecipient(identity);
    identityFile = path.join(dir, "identity.txt");
    fs.writeFileSync(identityFile, `${identity}\n`);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const ageDecrypt = (data: Buffer) => execFileSync("age", ["-d", "-i", identityFile], { input: data, maxBuffer: 1 << 28 });

  for (const size of [0, 1, 65535, 65536, 65537, 3 * 65536, 5 * 1024 * 1024 + 17]) {
    it(`encrypts ${size} bytes so that the age CLI decrypts them, natively and in pure JS`, async () => {
      const data = crypto.randomBytes(size);
      for (const p of [platform, pureJs]) {
        const sealed = await collect(encryptStream(p, [recipient], chunks(data)));
        expect(ageDecrypt(sealed).equals(data)).toBe(true);
      }
    });
  }

  it("decrypts what the age CLI encrypted, natively and in pure JS", async () => {
    const data = crypto.randomBytes(300_000);
    const sealed = execFileSync("age", ["-r", recipient], { input: data });
    for (const p of [platform, pureJs]) {
      expect((await collect(decryptStream(p, identity, chunks(sealed, 7777)))).equals(data)).toBe(true);
    }
  });

  it("encrypts to several recipients, each of which can decrypt", async () => {
    const other = await generateX25519Identity();
    const sealed = await collect(encryptStream(platform, [recipient, await identityToRecipient(other)], chunks(Buffer.from("escrow"))));
    expect((await collect(decryptStream(platform, identity, chunks(sealed)))).toString()).toBe("escrow");
    expect((await collect(decryptStream(platform, other, chunks(sealed)))).toString()).toBe("escrow");
  });

  describe("refuses damaged streams with INTEGRITY", () => {
    let sealed: Buffer;
    beforeAll(async () => {
      sealed = await collect(encryptStream(platform, [recipient], chunks(crypto.randomBytes(200_000))));
    });
    const cases: [string, () => Buffer][] = [
      ["a flipped payload byte", () => Buffer.from(sealed).fill(sealed[sealed.length - 100]! ^ 1, sealed.length - 100, sealed.length - 99)],
      ["a flipped header byte", () => Buffer.from(sealed).fill(sealed[40]! ^ 1, 40, 41)],
      ["a truncated last chunk", () => sealed.subarray(0, sealed.length - 10)],
      ["a missing last chunk", () => sealed.subarray(0, sealed.length - (200_000 - 3 * 65536) - 16)],
      ["appended bytes", () => Buffer.concat([sealed, Buffer.from("x")])],
    ];
    for (const [name, damage] of cases) {
      it(`refuses ${name}`, async () => {
        await expect(collect(decryptStream(platform, identity, chunks(damage())))).rejects.toMatchObject({ code: "INTEGRITY" });
      });
    }
    it("refuses an identity that is not a recipient", async () => {
      const stranger = await generateX25519Identity();
      await expect(collect(decryptStream(platform, stranger, chunks(sealed)))).rejects.toMatchObject({ code: "INTEGRITY" });
    });
  });
});
