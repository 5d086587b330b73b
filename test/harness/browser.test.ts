// The browser harness: Debian's headless Chromium through playwright-core reads a page
// served from 127.0.0.1, shows escaped markup as text, and leaves a screenshot artifact.
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, screenshotPath } from "./browser";

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lifeboat browser harness</title></head>
<body>
  <h1>Fleet status</h1>
  <p id="note">&lt;script&gt;window.ran = true&lt;/script&gt;</p>
  <ul><li>host-a: ok</li><li>host-b: failed</li></ul>
</body></html>`;

let server: http.Server;
let url: string;
let browser: Browser;

beforeAll(async () => {
  server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const started = performance.now();
  browser = await launchBrowser();
  console.log(`chromium ${browser.version()} launched in ${Math.round(performance.now() - started)} ms`);
});

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

describe("headless chromium", () => {
  it("reads the page's text, keeps escaped markup as text and writes a screenshot", async () => {
    const page = await browser.newPage({ viewport: { width: 800, height: 400 } });
    await page.goto(url);

    expect(await page.title()).toBe("Lifeboat browser harness");
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Fleet status");
    expect(await page.getByRole("listitem").allTextContents()).toEqual(["host-a: ok", "host-b: failed"]);
    expect(await page.locator("#note").textContent()).toBe("<script>window.ran = true</script>");
    expect(await page.locator("script").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { ran?: boolean }).ran)).toBeUndefined();

    const file = screenshotPath("browser-harness");
    fs.rmSync(file, { force: true });
    await page.screenshot({ path: file, fullPage: true });
    const png = fs.readFileSync(file);
    expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    await page.close();
  });

  it("refuses a screenshot name that is not one plain file name", () => {
    expect(() => screenshotPath("../escape")).toThrow(/Cannot name a screenshot "..\/escape"/);
  });
});
