/**
 * @module A real headless browser for tests: Debian's `chromium` package driven
 * by playwright-core (which downloads no browser of its own). Without the
 * package {@link launchBrowser} throws, so browser tests fail instead of skipping.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { chromium, type Browser } from "playwright-core";

/**
 * The browser binary of Debian's `chromium` package. Not the `/usr/bin/chromium`
 * wrapper: that shell script sources /etc/chromium.d (extension and GPU flags,
 * and a /dev/shm size test that fails with an error where /dev/shm is mounted
 * twice) before exec'ing this same binary.
 */
export const CHROMIUM = "/usr/lib/chromium/chromium";

/**
 * Flags for headless use here. Playwright passes the same two by default today;
 * they are spelled out so a change of its defaults cannot break the tests.
 * - `--no-sandbox`: the tests run as root, and Chromium refuses to sandbox as root.
 * - `--disable-dev-shm-usage`: shared memory in the temp dir instead of
 *   /dev/shm, which is 64 MiB in a default container and crashes renderers.
 */
const HEADLESS_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"];

const SCREENSHOTS = path.join(import.meta.dirname, "..", "..", "test-artifacts", "screenshots");

/**
 * Starts headless Chromium; the caller closes it (`browser.close()`).
 * Throws if Debian's `chromium` package is missing, naming the fix.
 */
export async function launchBrowser(): Promise<Browser> {
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
  } catch (cause) {
    throw new Error(`Cannot start Chromium: "${CHROMIUM}" is missing or not executable: run \`bash scripts/setup.sh\` (installs Debian's chromium package)`, { cause });
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: HEADLESS_ARGS, timeout: 30_000 });
}

/**
 * Where a test keeps its screenshot `name` as an artifact:
 * `test-artifacts/screenshots/<name>.png` under the repository root (git-ignored).
 * Creates the folder. Throws for a name that is not one plain file name.
 */
export function screenshotPath(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`Cannot name a screenshot "${name}": use letters, digits, ".", "_" and "-" only`);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return path.join(SCREENSHOTS, `${name}.png`);
}
