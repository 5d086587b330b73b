/** @module The contract every plugin passes: backup → verify → restore → compare, a failed restore changes nothing, a bad copy fails verification. */
import * as fs from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Plugin } from "../plugins/contract";
import { artifactBytes, pluginContext, restoreInput, type TestContext } from "./plugin-context";

/** Live data for one contract run. */
export interface PluginFixtureData<C> {
  config: C;
  /** A comparable picture of the live data (trees, row counts, keys). */
  state(): Promise<unknown> | unknown;
  /** Changes the live data so that a restore has something to undo. */
  damage(): Promise<void> | void;
  cleanup(): Promise<void> | void;
}

/** How to make live data for a plugin. */
export interface PluginFixture<C> {
  plugin: Plugin<C>;
  setup(ctx: TestContext): Promise<PluginFixtureData<C>> | PluginFixtureData<C>;
}

/** The plugins that {@link describePluginContract} was called for, so that a suite can prove none was left out. */
export const pluginsUnderContract = new Map<string, Plugin<never>>();

/** Registers the contract suite for one plugin. */
export function describePluginContract<C>(name: string, fixture: PluginFixture<C>): void {
  pluginsUnderContract.set(fixture.plugin.name, fixture.plugin as Plugin<never>);
  describe(`plugin contract: ${name}`, () => {
    let ctx: TestContext;
    let data: PluginFixtureData<C>;
    beforeEach(async () => {
      ctx = pluginContext();
      data = await fixture.setup(ctx);
    });
    afterEach(async () => {
      await data?.cleanup();
      ctx?.cleanup();
    });

    async function backup() {
      await fixture.plugin.check(ctx, data.config);
      const out: { name: string; bytes: Buffer; metadata: Record<string, unknown> }[] = [];
      for await (const a of fixture.plugin.backup(ctx, data.config)) out.push({ name: a.name, bytes: await artifactBytes(a), metadata: a.metadata() });
      expect(out.length).toBeGreaterThan(0);
      return out;
    }

    it("restores in place exactly what it backed up, after the live data changed", async () => {
      const artifacts = await backup();
      const before = await data.state();
      await data.damage();
      expect(await data.state()).not.toEqual(before);
      await fixture.plugin.restore(ctx, data.config, artifacts.map((a) => restoreInput(a.bytes, a.metadata, false, a.name)), {});
      expect(await data.state()).toEqual(before);
    });

    it("verifies its backup in scratch space with the service's own checks, leaving the live data alone", async () => {
      const artifacts = await backup();
      const before = await data.state();
      const scratch = `${ctx.scratchDir}/verify`;
      fs.mkdirSync(scratch);
      const report = await fixture.plugin.verify(ctx, data.config, artifacts.map((a) => restoreInput(a.bytes, a.metadata, false, a.name)), scratch);
      expect(report.checks.length).toBeGreaterThan(0);
      for (const check of report.checks) expect(check).toMatch(/\w/);
      expect(await data.state()).toEqual(before);
    });

    it("fails verification when a stored artifact fails its check at the very end", async () => {
      const artifacts = await backup();
      const before = await data.state();
      const scratch = `${ctx.scratchDir}/verify`;
      fs.mkdirSync(scratch);
      const inputs = artifacts.map((a, i) => restoreInput(a.bytes, a.metadata, i === artifacts.length - 1, a.name));
      await expect(fixture.plugin.verify(ctx, data.config, inputs, scratch)).rejects.toMatchObject({ code: "INTEGRITY" });
      expect(await data.state()).toEqual(before);
    });

    it("changes nothing for a --path that selects nothing it holds (plugins that cannot select files refuse --path)", async () => {
      const artifacts = await backup();
      await data.damage();
      const damaged = await data.state();
      const inputs = artifacts.map((a) => restoreInput(a.bytes, a.metadata, false, a.name));
      await expect(fixture.plugin.restore(ctx, data.config, inputs, { paths: ["/lifeboat-nothing-here/**"] })).rejects.toMatchObject({ code: "USAGE", message: expect.stringContaining('"/lifeboat-nothing-here/**"') });
      expect(await data.state()).toEqual(damaged);
    });

    it("changes nothing when a stored artifact fails its check at the very end", async () => {
      const artifacts = await backup();
      await data.damage();
      const damaged = await data.state();
      const inputs = artifacts.map((a, i) => restoreInput(a.bytes, a.metadata, i === artifacts.length - 1, a.name));
      await expect(fixture.plugin.restore(ctx, data.config, inputs, {})).rejects.toMatchObject({ code: "INTEGRITY" });
      expect(await data.state()).toEqual(damaged);
    });
  });
}
