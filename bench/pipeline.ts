// `npm run bench`: the agent's backup pipeline against the shell pipelines people use today.
//
// For a 2 GiB incompressible file and a compressible text dump of similar size
// (BENCH_SIZE_MIB to change), on the same data in one run, to a local destination:
//   lifeboat agent (files plugin → auto compression → age → sha256 → local destination), as one object
//   and as chunks (a first run: every chunk compressed, encrypted and stored)
//   tar -cf - | gzip | age         tar -cf - | zstd -1 | age         restic backup (when installed)
// Reports MB/s (input bytes / wall time) and the agent's peak RSS (VmHWM).
import { execSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BenchAgent, dirSize, has, timed, work } from "./bench-agent";

const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 2048);

interface Result {
  name: string;
  data: string;
  seconds: number;
  mbps: number;
  peakRssMiB?: number;
  storedMiB: number;
}

function makeData(): { random: string; text: string } {
  fs.mkdirSync(work, { recursive: true });
  const random = path.join(work, `random-${sizeMiB}M`);
  const text = path.join(work, `dump-${sizeMiB}M`);
  if (!fs.existsSync(random) || fs.statSync(random).size !== sizeMiB * 1024 * 1024) {
    console.log(`making ${random}`);
    execSync(`head -c ${sizeMiB}M /dev/urandom > ${random}`);
  }
  if (!fs.existsSync(text) || fs.statSync(text).size < sizeMiB * 1024 * 1024 * 0.99) {
    console.log(`making ${text}`);
    const fd = fs.openSync(text, "w");
    let written = 0;
    let id = 0;
    const words = ["alpha", "open-webui", "chat", "message", "assistant", "user", "the quick brown fox", "lorem ipsum dolor", "retrieval", "embedding"];
    while (written < sizeMiB * 1024 * 1024) {
      const lines: string[] = [];
      for (let i = 0; i < 20000; i++) {
        id++;
        lines.push(`INSERT INTO chat VALUES (${id}, '${words[id % 10]} ${words[(id * 7) % 10]}', '${crypto.randomBytes(6).toString("hex")}', ${1700000000 + id});`);
      }
      const chunk = `${lines.join("\n")}\n`;
      fs.writeSync(fd, chunk);
      written += Buffer.byteLength(chunk);
    }
    fs.closeSync(fd);
  }
  return { random, text };
}

async function main(): Promise<void> {
  const { random, text } = makeData();
  const agent = await BenchAgent.create();
  const recipient = agent.recipient;
  const results: Result[] = [];
  const tools = { zstd: has("zstd"), age: has("age"), restic: has("restic") };

  for (const [label, file] of [
    ["incompressible", random],
    ["text dump", text],
  ] as const) {
    const bytes = fs.statSync(file).size;
    const store = path.join(work, "store");
    fs.rmSync(store, { recursive: true, force: true });
    fs.mkdirSync(store);
    for (const chunked of [false, true]) {
      fs.rmSync(store, { recursive: true, force: true });
      fs.mkdirSync(store);
      const run = await agent.backup([{ instance: "files", plugin: "files", config: { paths: [file] } }], store, chunked);
      const compression = /"compression":"(\w+)"/.exec(run.stdout)?.[1] ?? "?";
      results.push({ name: `lifeboat agent (${compression}${chunked ? ", first run" : ""})`, data: label, seconds: run.seconds, mbps: bytes / 1e6 / run.seconds, peakRssMiB: run.peakKiB / 1024, storedMiB: dirSize(store) / 1048576 });
    }

    const out = path.join(work, "out.age");
    const dir = path.dirname(file);
    const base = path.basename(file);
    const shells: [string, string][] = [[`tar | gzip | age`, `tar -C ${dir} -cf - ${base} | gzip | age -r ${recipient} > ${out}`]];
    if (tools.zstd) shells.push([`tar | zstd -1 | age`, `tar -C ${dir} -cf - ${base} | zstd -1 -q | age -r ${recipient} > ${out}`]);
    for (const [name, command] of shells) {
      execSync("sync");
      const r = await timed("bash", ["-o", "pipefail", "-c", command]);
      results.push({ name, data: label, seconds: r.seconds, mbps: bytes / 1e6 / r.seconds, storedMiB: fs.statSync(out).size / 1048576 });
    }
    if (tools.restic) {
      const repo = path.join(work, "restic");
      fs.rmSync(repo, { recursive: true, force: true });
      const env = { ...process.env, RESTIC_PASSWORD: "bench", RESTIC_REPOSITORY: repo };
      execSync("restic init -q", { env });
      execSync("sync");
      const r = await timed("restic", ["backup", "-q", file], { env });
      results.push({ name: "restic backup", data: label, seconds: r.seconds, mbps: bytes / 1e6 / r.seconds, peakRssMiB: r.peakKiB / 1024, storedMiB: dirSize(repo) / 1048576 });
      fs.rmSync(repo, { recursive: true, force: true });
    }
    fs.rmSync(out, { force: true });
  }

  console.log(`\nLifeboat pipeline benchmark: ${sizeMiB} MiB per data set, local destination, ${process.version}, ${os.cpus().length} cores\n`);
  console.log("| pipeline | data | seconds | MB/s | peak RSS MiB | stored MiB |");
  console.log("| --- | --- | ---: | ---: | ---: | ---: |");
  for (const r of results) {
    console.log(`| ${r.name.replace(/\|/g, "\\|")} | ${r.data} | ${r.seconds.toFixed(2)} | ${r.mbps.toFixed(1)} | ${r.peakRssMiB?.toFixed(0) ?? "-"} | ${r.storedMiB.toFixed(0)} |`);
  }
  for (const data of ["incompressible", "text dump"]) {
    const agent = results.find((r) => r.data === data && r.name.startsWith("lifeboat"))!;
    const gzip = results.find((r) => r.data === data && r.name.startsWith("tar | gzip"))!;
    console.log(`\n${data}: agent ${agent.mbps.toFixed(1)} MB/s = ${(agent.mbps / gzip.mbps).toFixed(1)}x tar|gzip|age; peak RSS ${agent.peakRssMiB!.toFixed(0)} MiB`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
