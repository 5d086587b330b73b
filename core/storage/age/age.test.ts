// age streams against the stock age CLI (v1.1): interop both ways, native and pure-JS ciphers, every tampering refused.
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { currentPlatform } from "../../../platform/current";
import { selfTestedX25519 } from "../../../platform/node";
import { Decrypter, Encrypter, generateHybridIdentity, identityToRecipient } from "age-encryption";
import { type Platform, type X25519 } from "../../platform";
import { decryptStream } from "./decrypt";
import { encryptStream } from "./encrypt";
import { decodeX25519Recipient, encodeBech32, encodeBech32Words } from "./bech32";
import { base64NoPad, createHeader } from "./header";
import { generateIdentity } from "../../age-keys";
import { CHUNK_SIZE, chunkNonce, payloadKey, SEALED_CHUNK_SIZE } from "./stream";

const native = currentPlatform();
const pureJs: Platform = { ...native, chacha20poly1305: null };
const noX25519: Platform = { ...native, x25519: null };

/** `native` whose X25519 counts its key pairs: a non-zero count means the header was written natively. */
function counting(base: Platform = native): { platform: Platform; generated: () => number } {
  const x25519 = base.x25519!;
  let generated = 0;
  const spy: X25519 = {
    generate: () => {
      generated++;
      return x25519.generate();
    },
    sharedSecret: (secret, peer) => x25519.sharedSecret(secret, peer),
  };
  return { platform: { ...base, x25519: spy }, generated: () => generated };
}

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

  describe("the native header", () => {
    let keys: { identity: string; recipient: string; file: string }[];
    beforeAll(async () => {
      keys = [];
      for (let i = 0; i < 3; i++) {
        const key = await generateIdentity();
        const file = path.join(dir, `native-${i}.txt`);
        fs.writeFileSync(file, `${key.identity}\n`, { mode: 0o600 });
        keys.push({ ...key, file });
      }
    });

    it("has a native X25519 on Node that meets RFC 7748 and refuses a low-order point", () => {
      const x25519 = native.x25519!;
      expect(x25519).toBeTruthy();
      const alice = Buffer.from("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "hex");
      const bob = Buffer.from("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", "hex");
      const alicePublic = Buffer.from("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", "hex");
      const bobPublic = Buffer.from("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", "hex");
      const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
      expect(Buffer.from(x25519.sharedSecret(alice, bobPublic)).toString("hex")).toBe(shared);
      expect(Buffer.from(x25519.sharedSecret(bob, alicePublic)).toString("hex")).toBe(shared);
      const pair = x25519.generate();
      expect([pair.secret.length, pair.public.length]).toEqual([32, 32]);
      expect(Buffer.from(x25519.sharedSecret(pair.secret, bobPublic)).equals(Buffer.from(x25519.sharedSecret(bob, pair.public)))).toBe(true);
      // A generated secret changed in place is used as it now is, not as it was generated.
      const changed = x25519.generate();
      changed.secret.set(bob);
      expect(Buffer.from(x25519.sharedSecret(changed.secret, alicePublic)).toString("hex")).toBe(shared);
      expect(() => x25519.sharedSecret(alice, new Uint8Array(32))).toThrow();
    });

    it("derives HKDF-SHA-256 and HMAC-SHA-256 byte for byte as node:crypto does", () => {
      for (let i = 0; i < 40; i++) {
        const ikm = crypto.randomBytes(i % 33);
        const salt = crypto.randomBytes(i % 3 === 0 ? 0 : 16 * (i % 5));
        const info = `info ${i} é`;
        const length = [0, 1, 16, 32, 33, 64, 100][i % 7]!;
        expect(Buffer.from(native.hkdfSha256(ikm, salt, info, length)).equals(Buffer.from(crypto.hkdfSync("sha256", ikm, salt, info, length)))).toBe(true);
        expect(Buffer.from(native.hmacSha256!(salt, ikm)).equals(crypto.createHmac("sha256", salt).update(ikm).digest())).toBe(true);
      }
      expect(() => native.hkdfSha256(new Uint8Array(16), new Uint8Array(0), "x", 255 * 32 + 1)).toThrow();
    });

    it("makes thousands of key pairs without stalling", () => {
      // On Node 20, exporting a key that generateKeyPairSync made deadlocks when a garbage
      // collection finalizes the spent job during the export; a child process (small young
      // generation, many collections) runs the pattern so that a hang fails by timeout.
      const script = path.join(dir, "x25519-stress.mts");
      const platformModule = new URL("../../../platform/node.ts", import.meta.url).href;
      fs.writeFileSync(
        script,
        `import { nodePlatform } from ${JSON.stringify(platformModule)};
const x = nodePlatform.x25519;
if (!x) throw new Error("no native X25519");
const peer = x.generate().public;
for (let i = 0; i < 10000; i++) x.sharedSecret(x.generate().secret, peer);
console.log("done");
`,
      );
      const out = execFileSync(process.execPath, ["--max-semi-space-size=1", "--import", "tsx", script], { timeout: 30_000, stdio: "pipe" });
      expect(out.toString()).toContain("done");
    }, 60_000);

    it("keeps a runtime's X25519 only when it passes the self-test", () => {
      const real = native.x25519!;
      expect(selfTestedX25519()).not.toBeNull();
      expect(selfTestedX25519(() => real)).toBe(real);
      const missing = () => {
        throw new TypeError("crypto.generateKeyPairSync: x25519 is not supported");
      };
      expect(selfTestedX25519(missing)).toBeNull();
      expect(selfTestedX25519(() => ({ ...real, generate: missing }))).toBeNull();
      expect(selfTestedX25519(() => ({ ...real, sharedSecret: () => new Uint8Array(32).fill(7) }))).toBeNull();
      // A generate whose public key is not its secret's.
      expect(selfTestedX25519(() => ({ ...real, generate: () => ({ secret: real.generate().secret, public: real.generate().public }) }))).toBeNull();
    });

    it("falls back to typage when the native X25519 fails", async () => {
      const failing = () => {
        throw new Error("not implemented");
      };
      const broken: Platform = { ...native, x25519: { generate: () => native.x25519!.generate(), sharedSecret: failing } };
      const sealed = await collect(encryptStream(broken, [keys[0]!.recipient], pieces(Buffer.from("fallback"))));
      expect(ageDecrypt(sealed, keys[0]!.file).toString()).toBe("fallback");
    });

    for (const count of [1, 2, 3]) {
      it(`is written natively for ${count} recipient(s); the age CLI decrypts it with each identity alone, typage parses it`, async () => {
        const { platform, generated } = counting();
        const recipients = keys.slice(0, count).map((k) => k.recipient);
        const data = crypto.randomBytes(100_000);
        const sealed = await collect(encryptStream(platform, recipients, pieces(data)));
        expect(generated()).toBe(count);
        for (const key of keys.slice(0, count)) expect(ageDecrypt(sealed, key.file).equals(data)).toBe(true);
        expect(() => ageDecrypt(sealed)).toThrow(/no identity matched/); // the suite's own identity is none of them

        const { header, fileKey } = await createHeader(platform, recipients);
        expect(generated()).toBe(2 * count);
        const text = Buffer.from(header).toString("latin1");
        const stanza = "-> X25519 [A-Za-z0-9+/]{43}\\n[A-Za-z0-9+/]{43}\\n";
        expect(text).toMatch(new RegExp(`^age-encryption\\.org/v1\\n(${stanza}){${count}}--- [A-Za-z0-9+/]{43}\\n$`));
        for (const key of keys.slice(0, count)) {
          const decrypter = new Decrypter();
          decrypter.addIdentity(key.identity);
          expect(Buffer.from(await decrypter.decryptHeader(header)).equals(Buffer.from(fileKey))).toBe(true);
        }
      });
    }

    it("puts a fresh file key and fresh ephemeral keys in every header", async () => {
      const a = await createHeader(native, [keys[0]!.recipient, keys[1]!.recipient]);
      const b = await createHeader(native, [keys[0]!.recipient, keys[1]!.recipient]);
      expect(Buffer.from(a.fileKey).equals(Buffer.from(b.fileKey))).toBe(false);
      const shares = (h: Uint8Array) => Buffer.from(h).toString("latin1").match(/^-> X25519 .*$/gm)!;
      expect(new Set([...shares(a.header), ...shares(b.header)]).size).toBe(4);
    });

    it("keeps the CONFIG errors of an empty or malformed recipient list, word for word", async () => {
      const valid = keys[0]!.recipient;
      const flipped = `${valid.slice(0, -1)}${valid.endsWith("q") ? "p" : "q"}`;
      const lists = [[], [`${valid}x`], [flipped], [valid, flipped], [valid.toUpperCase()], ["ssh-ed25519 AAAA"], [valid, "age1"]];
      for (const list of lists) {
        const failure = (platform: Platform) => createHeader(platform, list).then(
          () => new Error("no error"),
          (err: unknown) => err as Error,
        );
        const viaTypage = await failure(noX25519);
        const viaNative = await failure(native);
        expect(viaTypage).toMatchObject({ code: "CONFIG" });
        expect(viaNative).toMatchObject({ code: "CONFIG", message: viaTypage.message });
      }
      await expect(createHeader(native, [flipped])).rejects.toThrow(`Cannot encrypt to recipient "${flipped}": `);
    });

    it("leaves a low-order recipient key to typage, which refuses it", async () => {
      const { platform, generated } = counting();
      const zero = encodeBech32("age", new Uint8Array(32));
      expect(decodeX25519Recipient(zero)).toEqual(new Uint8Array(32));
      await expect(createHeader(platform, [keys[0]!.recipient, zero])).rejects.toThrow();
      expect(generated()).toBeGreaterThan(0);
    });

    it("falls back to typage without native X25519 or HMAC, still readable by the age CLI", async () => {
      const recipients = keys.slice(0, 2).map((k) => k.recipient);
      for (const platform of [noX25519, { ...native, x25519: undefined, hmacSha256: undefined }, { ...pureJs, x25519: null }]) {
        const data = crypto.randomBytes(70_000);
        const sealed = await collect(encryptStream(platform, recipients, pieces(data)));
        for (const key of keys.slice(0, 2)) expect(ageDecrypt(sealed, key.file).equals(data)).toBe(true);
      }
      const withoutHmac = counting({ ...native, hmacSha256: undefined });
      await createHeader(withoutHmac.platform, recipients);
      expect(withoutHmac.generated()).toBe(0);
    });

    it("writes the header natively with the pure-JS cipher too", async () => {
      const { platform, generated } = counting(pureJs);
      const sealed = await collect(encryptStream(platform, [keys[0]!.recipient, keys[2]!.recipient], pieces(Buffer.from("pure"))));
      expect(generated()).toBe(2);
      expect(ageDecrypt(sealed, keys[2]!.file).toString()).toBe("pure");
    });

    it("leaves other recipient types to typage, alongside X25519 ones", async () => {
      const { platform, generated } = counting();
      const hybrid = await generateHybridIdentity();
      const { header, fileKey } = await createHeader(platform, [keys[0]!.recipient, await identityToRecipient(hybrid)]);
      expect(generated()).toBe(0);
      for (const identity of [keys[0]!.identity, hybrid]) {
        const decrypter = new Decrypter();
        decrypter.addIdentity(identity);
        expect(Buffer.from(await decrypter.decryptHeader(header)).equals(Buffer.from(fileKey))).toBe(true);
      }
    });

    it("decodes exactly the recipients typage accepts, and base64 as age writes it", async () => {
      for (const key of keys) {
        const raw = decodeX25519Recipient(key.recipient)!;
        expect(raw).toHaveLength(32);
        expect(encodeBech32("age", raw)).toBe(key.recipient);
      }
      const valid = keys[0]!.recipient;
      for (const bad of [valid.toUpperCase(), `${valid.slice(0, -1)}${valid.endsWith("q") ? "p" : "q"}`, valid.slice(0, -1), `${valid}q`, valid.replace("age1", "agf1"), "age1pq1" + valid.slice(7)]) {
        expect(decodeX25519Recipient(bad)).toBeNull();
      }
      // Non-zero padding bits with a valid checksum: 32 bytes take 52 five-bit words, the last 4 bits of which must be 0.
      const words = [...valid.slice(4, -6)].map((c) => "qpzry9x8gf2tvdw0s3jn54khce6mua7l".indexOf(c));
      words[51] = words[51]! | 1;
      const padded = encodeBech32Words("age", words);
      expect(decodeX25519Recipient(padded)).toBeNull();
      expect(() => new Encrypter().addRecipient(padded)).toThrow();
      for (let n = 0; n < 7; n++) {
        const bytes = crypto.randomBytes(n);
        expect(base64NoPad(bytes)).toBe(bytes.toString("base64").replace(/=+$/, ""));
      }
    });
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
      const { header, fileKey } = await createHeader(native, [recipient]);
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
