// `npm run bench:restore`: the restore path of the files plugin on its own — extraction of a tar of
// 1 GiB (200 files of 5 MiB, BENCH_RESTORE_FILES to change) into staging under --into, confined
// (exclusive creates, placeholder symlinks), swapped in. Three runs; the median is reported.
import * as fs from "node:fs";
import * as path from "node:path";
import { filesPlugin } from "../plugins/files/files";
import { collect, pluginContext, restoreInput } from "../test/plugin-context";
import { work } from "./bench-agent";

const files = Number(process.env.BENCH_RESTORE_FILES ?? 200);

async function main(): Promise<void> {
  const source = path.join(work, `restore-src-${files}`);
  if (!fs.existsSync(source)) {
    console.log(`making ${source}`);
    fs.mkdirSync(source, { recursive: true });
    const block = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < files; i++) fs.writeFileSync(path.join(source, `f${i}`), block.fill(i));
  }
  const ctx = pluginContext();
  try {
    const config = filesPlugin.parseConfig({ paths: [source] }, "files");
    let tar: Buffer | undefined;
    let metadata: Record<string, unknown> = {};
    for await (const artifact of filesPlugin.backup(ctx, config)) {
      tar = await collect(artifact.data);
      metadata = artifact.metadata();
    }
    const seconds: number[] = [];
    for (let run = 0; run < 3; run++) {
      const into = path.join(work, `restore-into-${run}`);
      fs.rmSync(into, { recursive: true, force: true });
      const began = process.hrtime.bigint();
      await filesPlugin.restore(ctx, config, [restoreInput(tar!, metadata)], { into });
      seconds.push(Number(process.hrtime.bigint() - began) / 1e9);
      fs.rmSync(into, { recursive: true, force: true });
    }
    const median = [...seconds].sort((a, b) => a - b)[1]!;
    console.log(`files restore of ${(tar!.length / 1e6).toFixed(0)} MB (${files} files): median ${median.toFixed(2)} s = ${(tar!.length / 1e6 / median).toFixed(0)} MB/s; runs ${seconds.map((s) => s.toFixed(2)).join(", ")} s`);
  } finally {
    ctx.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
