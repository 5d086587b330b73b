// `npx tsx bench/age-header.ts`: the cost of an age header, the fixed cost of every small age file.
//
// A chunked backup writes one age file per ~1 MiB chunk, a thousand per GiB, so the header
// (per recipient an X25519 key pair, an X25519 agreement, HKDF and a wrapped file key; then
// the header MAC) matters as much as the payload cipher. Measures, in one process:
//   - HEADERS headers (default 2,000) for two recipients, the native path (node:crypto X25519)
//     against the typage path (age-encryption, the fallback without native X25519);
//     the native path for one and three recipients too;
//   - CHUNKS chunks (default 1,000) of 1 MiB, each encrypted as its own age file with
//     encryptStream to two recipients, end to end, on both paths.
// Checks one output of each path with the stock age CLI when it is installed.
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { generateIdentity } from "../core/age-keys";
import type { Platform } from "../core/platform";
import { encryptStream } from "../core/storage/age/encrypt";
import { createHeader } from "../core/storage/age/header";
import { nodePlatform } from "../platform/node";

const HEADERS = Number(process.env.HEADERS ?? 2000);
const CHUNKS = Number(process.env.CHUNKS ?? 1000);
const CHUNK_BYTES = 1024 * 1024;

const native: Platform = nodePlatform;
const typage: Platform = { ...nodePlatform, x25519: null };

/** Mean wall and CPU milliseconds per header over `n` headers; CPU time is the steadier figure on a busy machine. */
async function headers(platform: Platform, recipients: string[], n: number): Promise<{ wall: number; cpu: number }> {
  for (let i = 0; i < Math.min(50, n); i++) await createHeader(platform, recipients); // warm-up
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < n; i++) await createHeader(platform, recipients);
  const used = process.cpuUsage(cpu);
  return { wall: (performance.now() - start) / n, cpu: (used.user + used.system) / 1000 / n };
}

const ms = (t: { wall: number; cpu: number }) => `${t.wall.toFixed(3)} ms (CPU ${t.cpu.toFixed(3)} ms)`;

async function encryptChunks(platform: Platform, recipients: string[], chunk: Uint8Array, n: number): Promise<{ seconds: number; cpuSeconds: number; bytes: number }> {
  let bytes = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    for await (const piece of encryptStream(platform, recipients, (async function* () { yield chunk; })())) bytes += piece.length;
  }
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - start) / 1000, cpuSeconds: (used.user + used.system) / 1e6, bytes };
}

async function checkWithAgeCli(platform: Platform, identities: string[], recipients: string[]): Promise<string> {
  try {
    execFileSync("age", ["--version"], { stdio: "pipe" });
  } catch {
    return "age CLI not installed, not checked";
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-bench-age-"));
  try {
    const data = crypto.randomBytes(100_000);
    const parts: Uint8Array[] = [];
    for await (const piece of encryptStream(platform, recipients, (async function* () { yield data; })())) parts.push(piece);
    for (const [i, identity] of identities.entries()) {
      const file = path.join(dir, `id-${i}`);
      fs.writeFileSync(file, `${identity}\n`, { mode: 0o600 });
      const out = execFileSync("age", ["-d", "-i", file], { input: Buffer.concat(parts), stdio: "pipe" });
      if (!out.equals(data)) throw new Error("the age CLI returned other bytes");
    }
    return "the age CLI decrypts it with each identity";
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const keys = await Promise.all([generateIdentity(), generateIdentity(), generateIdentity()]);
  const recipients = keys.map((k) => k.recipient);
  const two = recipients.slice(0, 2);
  console.log(`${nodePlatform.runtime} ${process.version}, native X25519: ${nodePlatform.x25519 ? "yes" : "no"}, native ChaCha20-Poly1305: ${nodePlatform.chacha20poly1305 ? "yes" : "no"}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(2)}`);
  console.log(`native header: ${await checkWithAgeCli(native, keys.slice(0, 2).map((k) => k.identity), two)}`);
  console.log(`typage header: ${await checkWithAgeCli(typage, keys.slice(0, 2).map((k) => k.identity), two)}`);

  console.log(`\n${HEADERS} headers (createHeader), per header:`);
  const typageTime = await headers(typage, two, HEADERS);
  const nativeTime = await headers(native, two, HEADERS);
  console.log(`  2 recipients  typage ${ms(typageTime)}`);
  console.log(`  2 recipients  native ${ms(nativeTime)}  (${(typageTime.wall / nativeTime.wall).toFixed(1)}x faster)`);
  for (const count of [1, 3]) console.log(`  ${count} recipient${count > 1 ? "s" : " "}   native ${ms(await headers(native, recipients.slice(0, count), HEADERS))}`);

  const chunk = crypto.randomBytes(CHUNK_BYTES);
  console.log(`\n${CHUNKS} chunks of 1 MiB, one age file each (encryptStream, 2 recipients):`);
  for (const [name, platform] of [["native", native], ["typage", typage]] as const) {
    const { seconds, cpuSeconds, bytes } = await encryptChunks(platform, two, chunk, CHUNKS);
    const mib = (CHUNKS * CHUNK_BYTES) / (1 << 20);
    console.log(
      `  ${name.padEnd(7)} header: ${seconds.toFixed(2)} s (CPU ${cpuSeconds.toFixed(2)} s), ${(mib / seconds).toFixed(0)} MiB/s, ` +
        `${((seconds * 1000) / CHUNKS).toFixed(2)} ms per chunk, ${(bytes - CHUNKS * CHUNK_BYTES) / CHUNKS} bytes of overhead per file`,
    );
  }
}

await main();
