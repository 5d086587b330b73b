// `npx tsx bench/chunker.ts`: the content-defined chunker's throughput against a plain SHA-256 pass.
//
// 1 GiB (BENCH_CHUNKER_MIB to change) of pseudo-random bytes, made in memory as
// one 64 MiB piece that is pushed again and again, chunked with the default
// sizes (min 256 KiB, avg 1 MiB, max 4 MiB). Also pushed in 64 KiB pieces, the
// size file streams deliver, where most chunks straddle pieces and are copied
// twice. Each is run BENCH_RUNS times (default 3); reports the best and the
// median MB/s (10^6 bytes per second of wall time), the best run's MB/s by CPU
// time (steadier where other work shares the cores; sys is mostly page faults
// of the fresh chunk buffers), and the chunks' count and mean size.
import * as crypto from "node:crypto";
import { Chunker, DEFAULT_CHUNKING } from "../core/storage/chunker";

const totalMiB = Number(process.env.BENCH_CHUNKER_MIB ?? 1024);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const MiB = 1024 * 1024;
const PIECE = 64 * MiB;

/** xorshift32 from a fixed seed, four bytes at a time: the same data on every run. */
function pseudoRandom(bytes: number, seed = 0x2545f491): Uint8Array {
  const words = new Uint32Array(bytes / 4);
  let x = seed;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return new Uint8Array(words.buffer);
}

interface Timing {
  seconds: number;
  userSeconds: number;
  systemSeconds: number;
}

/** Feeds `totalMiB` of `piece`'s bytes to `consume`, in slices of `slice` bytes. */
function feed(piece: Uint8Array, slice: number, consume: (bytes: Uint8Array) => void): Timing {
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let done = 0; done < totalMiB * MiB; done += piece.length) {
    for (let at = 0; at < piece.length; at += slice) consume(piece.subarray(at, at + slice));
  }
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - started) / 1000, userSeconds: used.user / 1e6, systemSeconds: used.system / 1e6 };
}

/** Runs `once` `runs` times and prints the best and median throughput. */
function measure(name: string, once: () => Timing, extra: () => string = () => ""): void {
  const timings: Timing[] = [];
  for (let run = 0; run < runs; run++) timings.push(once());
  timings.sort((a, b) => a.seconds - b.seconds);
  const mbps = (seconds: number): string => ((totalMiB * MiB) / 1e6 / seconds).toFixed(0).padStart(5);
  const best = timings[0]!;
  const median = timings[Math.floor((timings.length - 1) / 2)]!;
  const cpu = best.userSeconds + best.systemSeconds;
  console.log(
    `${name.padEnd(30)} best ${mbps(best.seconds)} MB/s (${best.seconds.toFixed(2)} s), median ${mbps(median.seconds)} MB/s;` +
      ` by CPU time ${mbps(cpu)} MB/s (${best.userSeconds.toFixed(2)} s user, ${best.systemSeconds.toFixed(2)} s sys)${extra()}`,
  );
}

function chunkRun(piece: Uint8Array, slice: number): void {
  let count = 0;
  let bytes = 0;
  let largest = 0;
  measure(
    `chunker, ${slice >= MiB ? `${slice / MiB} MiB` : `${slice / 1024} KiB`} pushes`,
    () => {
      const chunker = new Chunker();
      count = 0;
      bytes = 0;
      const timing = feed(piece, slice, (data) => {
        for (const chunk of chunker.push(data)) {
          count++;
          bytes += chunk.length;
          largest = Math.max(largest, chunk.length);
        }
      });
      const last = chunker.end();
      if (last !== null) {
        count++;
        bytes += last.length;
      }
      if (bytes !== totalMiB * MiB) throw new Error(`chunks hold ${bytes} bytes, not ${totalMiB * MiB}`);
      return timing;
    },
    () => `; ${count} chunks, mean ${(bytes / count / 1024).toFixed(0)} KiB, largest ${(largest / 1024).toFixed(0)} KiB`,
  );
}

function main(): void {
  const piece = pseudoRandom(PIECE);
  const { min, avg, max } = DEFAULT_CHUNKING;
  console.log(`${totalMiB} MiB of pseudo-random data; chunk sizes min ${min / 1024} KiB, avg ${avg / 1024} KiB, max ${max / 1024} KiB; node ${process.version}`);
  // A short warm-up so that the optimizing compiler has seen the hot loop.
  new Chunker().push(piece.subarray(0, 16 * MiB));
  chunkRun(piece, PIECE);
  chunkRun(piece, 64 * 1024);
  measure("sha256 (node:crypto), 64 MiB", () => {
    const hash = crypto.createHash("sha256");
    const timing = feed(piece, PIECE, (data) => hash.update(data));
    hash.digest();
    return timing;
  });
}

main();
