/**
 * @module The `letsencrypt` plugin: /etc/letsencrypt exactly (live/ symlinks into archive/,
 * renewal/, key modes), with certificate facts and expiry warnings. With `container:` the
 * tree is read and written on the host through `containerPaths`.
 */
import { LifeboatError } from "../../core/errors";
import type { Platform } from "../../core/platform";
import { FieldReader } from "../../core/validate";
import { treeArchive } from "../common/tree-archive";
import { restoreTrees } from "../common/tree-restore";
import { checkRestoreLocation, locationFacts, readLocation, ServiceTool, type ServiceLocation } from "../common/service-tool";
import { configuredTargets } from "../common/restore-targets";
import type { ArtifactSource, Plugin, PluginContext } from "../contract";
import { readCompression } from "../common/config-fields";
import type { CompressionHint } from "../../core/records";

/** Configuration of a `letsencrypt` plugin instance. */
export interface LetsencryptConfig {
  /** The certbot configuration directory (as the container sees it, with `container:`). */
  root: string;
  /** Warn about certificates that expire within this many days. */
  warnDays: number;
  compression: CompressionHint;
  location: ServiceLocation;
}

/** What the manifest records about one certificate under live/. */
export interface CertificateFacts {
  name: string;
  names: string[];
  notAfter: string;
  fingerprint: string;
  keyMatches: boolean;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Reads every `live/<name>/` of a tree: the certificate must parse, and whether
 * it matches `privkey.pem` is recorded. @throws INTEGRITY for a certificate that does not parse.
 */
export async function inspectLive(platform: Platform, root: string): Promise<CertificateFacts[]> {
  const live = `${root}/live`;
  const names = (await platform.readdir(live).catch(() => [] as string[])).sort();
  const facts: CertificateFacts[] = [];
  for (const name of names) {
    const dir = `${live}/${name}`;
    if ((await platform.stat(dir).catch(() => null))?.kind !== "directory") continue;
    const certFile = (await platform.exists(`${dir}/cert.pem`)) ? `${dir}/cert.pem` : `${dir}/fullchain.pem`;
    const cert = platform.certificate(await platform.readText(certFile).catch(() => ""));
    if (!cert) throw new LifeboatError("INTEGRITY", `Cannot read the certificate "${certFile}": it does not parse as PEM X.509`, { hint: "check live/ symlinks point into archive/" });
    const key = await platform.readText(`${dir}/privkey.pem`).catch(() => "");
    facts.push({ name, names: cert.names, notAfter: cert.notAfter, fingerprint: cert.fingerprint, keyMatches: key !== "" && cert.matchesKey(key) });
  }
  return facts;
}

/** "5 days" for 4.9 days (rounded, as people count them), hours under a day. */
function timeLeft(ms: number): string {
  const [n, unit] = ms < DAY_MS ? [Math.max(1, Math.round(ms / 3_600_000)), "hour"] : [Math.round(ms / DAY_MS), "day"];
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/** Warnings for certificates that expire within `days` of `now` (or have expired). */
export function expiryWarnings(certificates: CertificateFacts[], days: number, now = new Date()): string[] {
  return certificates
    .filter((c) => Date.parse(c.notAfter) - now.getTime() < days * DAY_MS)
    .map((c) => {
      const left = Date.parse(c.notAfter) - now.getTime();
      return `certificate "${c.name}" (${c.names.join(", ")}) ${left < 0 ? "expired" : "expires"} ${c.notAfter.slice(0, 10)}${left < 0 ? "" : ` (in ${timeLeft(left)})`}`;
    });
}

export const letsencryptPlugin: Plugin<LetsencryptConfig> = {
  name: "letsencrypt",
  restoreStage: "certificates",
  // The certificates are read and checked by the agent itself.
  restoreTools: () => [],

  parseConfig(raw, where) {
    const r = FieldReader.of(raw ?? {}, where);
    const root = r.absolutePath("root", "/etc/letsencrypt");
    const warnDays = r.number("warnDays", true) ?? 14;
    const config: LetsencryptConfig = {
      root: root.replace(/(.)\/$/, "$1"),
      warnDays,
      compression: readCompression(r, "none"),
      location: readLocation(r),
    };
    r.rejectUnknown();
    return config;
  },

  async check(ctx, config) {
    const tool = new ServiceTool(ctx.platform, config.location);
    const live = tool.map(`${config.root}/live`);
    if (!(await ctx.platform.exists(live.host))) {
      throw new LifeboatError("SOURCE", `Cannot back up Let's Encrypt: ${tool.describe(live)} does not exist on this host`, { hint: tool.pathHint("set root: to the certbot configuration directory") });
    }
  },

  async *backup(ctx, config): AsyncIterable<ArtifactSource> {
    const tree = new ServiceTool(ctx.platform, config.location).map(config.root);
    const certificates = await inspectLive(ctx.platform, tree.host);
    for (const c of certificates) if (!c.keyMatches) ctx.warn(`certificate "${c.name}" does not match its privkey.pem`);
    for (const w of expiryWarnings(certificates, config.warnDays)) ctx.warn(w);
    const artifact = treeArchive(ctx, [tree], { exclude: [], oneFileSystem: false, compression: config.compression });
    yield { ...artifact, name: "letsencrypt.tar", metadata: () => ({ ...artifact.metadata(), root: config.root, warnDays: config.warnDays, certificates, ...locationFacts(config.location) }) };
  },

  async restore(ctx: PluginContext, config, inputs, target) {
    const [root] = configuredTargets(inputs[0]?.record.metadata.root, [config.root], target.into, "the Let's Encrypt tree") as [string];
    const recorded = (inputs[0]?.record.metadata.certificates ?? []) as CertificateFacts[];
    checkRestoreLocation(config.location, inputs[0]?.record.metadata ?? {}, root, target.into);
    return restoreTrees(ctx, [new ServiceTool(ctx.platform, config.location).map(root)], inputs, target, async (staged) => {
      const found = await inspectLive(ctx.platform, staged.get(root)!);
      for (const want of recorded) {
        const got = found.find((c) => c.name === want.name);
        if (!got || got.fingerprint !== want.fingerprint || got.keyMatches !== want.keyMatches) {
          throw new LifeboatError("INTEGRITY", `Refusing to restore "${root}": certificate "${want.name}" in the snapshot ${got ? "differs from what was recorded" : "is missing"}`, {
            hint: "the stored archive does not match its manifest; restore another snapshot",
          });
        }
      }
    });
  },

  async verify(ctx, config, inputs, scratch) {
    const root = (inputs[0]?.record.metadata.root as string | undefined) ?? config.root;
    // Staging the copy checks every recorded certificate against what was restored.
    const [restored] = (await letsencryptPlugin.restore(ctx, config, inputs, { into: scratch })).restored;
    const found = await inspectLive(ctx.platform, restored!);
    const mismatched = found.filter((c) => !c.keyMatches);
    if (mismatched.length > 0) {
      throw new LifeboatError("INTEGRITY", `Certificate "${mismatched[0]!.name}" in the snapshot of "${root}" does not match its privkey.pem${mismatched.length > 1 ? ` (and ${mismatched.length - 1} more)` : ""}`, {
        hint: "it did not match on the host either (the backup warned); renew it (certbot renew --cert-name NAME) and back up again",
      });
    }
    const warnings = expiryWarnings(found, config.warnDays);
    return { checks: [`${root}: ${found.length} live certificates parse and match their keys`, ...warnings.map((w) => `${root}: ${w}`)] };
  },

  operatorWarnings(record, now) {
    return expiryWarnings((record.metadata.certificates ?? []) as CertificateFacts[], Number(record.metadata.warnDays ?? 14), now);
  },
};
