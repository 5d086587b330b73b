// The letsencrypt plugin on a real certbot-shaped tree made with openssl.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dockerStandIn } from "../../test/harness/docker-standin";
import { addCertificate } from "../../test/harness/letsencrypt-tree";
import { listTree } from "../../test/harness/tree";
import { collect, pluginContext, restoreInput, type TestContext } from "../../test/plugin-context";
import { letsencryptPlugin, type CertificateFacts } from "./letsencrypt";

describe("letsencrypt plugin", () => {
  let dir: string;
  let root: string;
  let ctx: TestContext;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-le-"));
    root = path.join(dir, "letsencrypt");
    addCertificate(root, "example.com", ["example.com", "www.example.com"], 80);
    addCertificate(root, "soon.example.net", ["soon.example.net"], 5);
    ctx = pluginContext();
  });
  afterEach(() => {
    ctx.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const config = () => letsencryptPlugin.parseConfig({ root }, "hosts.h.plugins.letsencrypt");

  async function backup() {
    await letsencryptPlugin.check(ctx, config());
    for await (const a of letsencryptPlugin.backup(ctx, config())) return { bytes: await collect(a.data), metadata: a.metadata() };
    throw new Error("no artifact");
  }

  it("records each certificate's names and expiry, and warns about one expiring within 14 days", async () => {
    const { metadata } = await backup();
    const certs = metadata.certificates as CertificateFacts[];
    expect(certs.map((c) => [c.name, c.names, c.keyMatches])).toEqual([
      ["example.com", ["example.com", "www.example.com"], true],
      ["soon.example.net", ["soon.example.net"], true],
    ]);
    expect(ctx.warnings).toEqual([expect.stringMatching(/certificate "soon.example.net" .* expires \d{4}-\d\d-\d\d \(in 5 days\)/)]);
  });

  it("counts the time left as people do: 4.96 days is 5 days, under a day in hours", () => {
    const now = new Date("2026-11-30T12:00:00Z");
    const at = (hours: number) => new Date(now.getTime() + hours * 3_600_000).toISOString();
    const record = { plugin: "letsencrypt", instance: "certs", name: "letsencrypt.tar", key: "k", plainSize: 0, storedSize: 0, sha256: "0".repeat(64), compression: "none" as const, metadata: { warnDays: 14, certificates: [
      { name: "a", names: ["a.example"], notAfter: at(5 * 24 - 1), fingerprint: "", keyMatches: true },
      { name: "b", names: ["b.example"], notAfter: at(3), fingerprint: "", keyMatches: true },
      { name: "c", names: ["c.example"], notAfter: at(-30), fingerprint: "", keyMatches: true },
      { name: "d", names: ["d.example"], notAfter: at(20 * 24), fingerprint: "", keyMatches: true },
    ] } };
    expect(letsencryptPlugin.operatorWarnings!(record, now)).toEqual([
      `certificate "a" (a.example) expires ${at(5 * 24 - 1).slice(0, 10)} (in 5 days)`,
      `certificate "b" (b.example) expires 2026-11-30 (in 3 hours)`,
      `certificate "c" (c.example) expired 2026-11-29`,
    ]);
  });

  it("restores the tree exactly: live/ symlinks into archive/, key modes, renewal configs", async () => {
    const { bytes, metadata } = await backup();
    const before = listTree(root);
    const into = path.join(dir, "restored");
    await letsencryptPlugin.restore(ctx, config(), [restoreInput(bytes, metadata)], { into });
    const restored = path.join(into, path.basename(root));
    expect(listTree(restored)).toEqual(before);
    expect(fs.readlinkSync(`${restored}/live/example.com/privkey.pem`)).toBe("../../archive/example.com/privkey1.pem");
    expect(fs.statSync(`${restored}/archive/example.com/privkey1.pem`).mode & 0o777).toBe(0o600);
  });

  it("refuses a restore whose certificates differ from the manifest, leaving the target untouched", async () => {
    const { bytes, metadata } = await backup();
    const forged = { ...metadata, certificates: (metadata.certificates as CertificateFacts[]).map((c) => ({ ...c, fingerprint: "00:11" })) };
    const before = listTree(dir);
    await expect(letsencryptPlugin.restore(ctx, config(), [restoreInput(bytes, forged)], {})).rejects.toMatchObject({ code: "INTEGRITY" });
    expect(listTree(dir)).toEqual(before);
  });

  it("notices a certificate that does not match its key", async () => {
    addCertificate(root, "other.org", ["other.org"], 60);
    fs.rmSync(path.join(root, "live", "other.org", "privkey.pem"));
    fs.symlinkSync("../../archive/example.com/privkey1.pem", path.join(root, "live", "other.org", "privkey.pem"));
    const { metadata } = await backup();
    expect((metadata.certificates as CertificateFacts[]).find((c) => c.name === "other.org")?.keyMatches).toBe(false);
    expect(ctx.warnings).toContain('certificate "other.org" does not match its privkey.pem');
  });

  it("backs up and restores a container's tree through containerPaths, recording the container path", async () => {
    const standin = dockerStandIn();
    try {
      const cfg = letsencryptPlugin.parseConfig({ root: "/etc/letsencrypt", container: "certbot", docker: standin.docker, containerPaths: { "/etc/letsencrypt": root } }, "hosts.h.plugins.letsencrypt");
      await letsencryptPlugin.check(ctx, cfg);
      let artifact;
      for await (const a of letsencryptPlugin.backup(ctx, cfg)) artifact = { bytes: await collect(a.data), metadata: a.metadata() };
      expect(artifact!.metadata).toMatchObject({ root: "/etc/letsencrypt", paths: ["/etc/letsencrypt"], container: "certbot" });
      expect((artifact!.metadata.certificates as CertificateFacts[]).map((c) => c.name)).toEqual(["example.com", "soon.example.net"]);
      const before = listTree(root);
      fs.rmSync(path.join(root, "live", "example.com"), { recursive: true });
      const report = await letsencryptPlugin.restore(ctx, cfg, [restoreInput(artifact!.bytes, artifact!.metadata)], {});
      expect(report.restored).toEqual([root]);
      expect(listTree(root)).toEqual(before);
      const verified = await letsencryptPlugin.verify(ctx, cfg, [restoreInput(artifact!.bytes, artifact!.metadata)], path.join(dir, "scratch"));
      expect(verified.checks[0]).toBe("/etc/letsencrypt: 2 live certificates parse and match their keys");
      expect(standin.calls()).toEqual([]);
    } finally {
      standin.cleanup();
    }
  });

  it("names the container path and its host path when live/ is missing", async () => {
    const cfg = letsencryptPlugin.parseConfig({ root: "/etc/letsencrypt", container: "certbot", containerPaths: { "/etc/letsencrypt": path.join(dir, "nope") } }, "x");
    await expect(letsencryptPlugin.check(ctx, cfg)).rejects.toMatchObject({
      code: "SOURCE",
      message: `Cannot back up Let's Encrypt: "/etc/letsencrypt/live" of container "certbot" (on the host "${dir}/nope/live") does not exist on this host`,
    });
  });
});
