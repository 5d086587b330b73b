import * as fs from "node:fs/promises";
import { currentPlatform } from "./agent/platform";
import { encryptStream } from "./agent/crypto/age-encrypt";
import { hashed } from "./agent/pipeline/measure";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
const p = currentPlatform();
const file = "bench/.data/random-2048M";
const r = await identityToRecipient(await generateX25519Identity());
async function write2(path: string, data: AsyncIterable<Uint8Array>) {
  const h = await fs.open(path, "w", 0o600);
  let pending: Promise<unknown> = Promise.resolve();
  let n = 0;
  try {
    for await (const c of data) { await pending; pending = h.write(c); n += c.length; }
    await pending;
  } finally { await h.close(); }
  return n;
}
for (let i = 0; i < 2; i++) {
let t = Date.now(); await p.writeStream("/tmp/perf.out", hashed(p, encryptStream(p, [r], p.readStream(file))).data); console.log("pipeline write", (2147 / ((Date.now() - t) / 1000)).toFixed(0));
t = Date.now(); await write2("/tmp/perf.out", hashed(p, encryptStream(p, [r], p.readStream(file))).data); console.log("handle write", (2147 / ((Date.now() - t) / 1000)).toFixed(0));
}
