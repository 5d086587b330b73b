/** @module Simulated users for owner tests: real `useradd`/`groupadd` accounts (tests run as root), removed by the test. */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";

/** A user with a primary group of its own name. */
export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  /** Removes the user and its group (no error if already gone). */
  remove(): void;
}

/** A name no account has: `lb` and random hex (short enough for ustar's 31 characters). */
export function unusedAccountName(): string {
  return `lb${crypto.randomBytes(5).toString("hex")}`;
}

/** A uid/gid that is free for both users and groups, in a range system accounts do not use. */
function freeId(): number {
  for (;;) {
    const id = 42000 + crypto.randomInt(20000);
    const taken = ["passwd", "group"].some((db) => {
      try {
        execFileSync("getent", [db, String(id)], { stdio: "ignore" });
        return true;
      } catch {
        return false;
      }
    });
    if (!taken) return id;
  }
}

/**
 * Creates user and group `name` (a fresh name by default) with fresh ids, or
 * with the given ones. Fails when not root: the tests that need it run as root.
 */
export function addUser(name = unusedAccountName(), ids: { uid?: number; gid?: number } = {}): TestUser {
  if (process.getuid?.() !== 0) throw new Error("owner tests create users: run them as root (CI does)");
  const uid = ids.uid ?? freeId();
  const gid = ids.gid ?? freeId();
  withAccountLock(() => execFileSync("groupadd", ["-g", String(gid), name], { stdio: "pipe" }));
  withAccountLock(() => execFileSync("useradd", ["-M", "-N", "-u", String(uid), "-g", String(gid), "-s", "/usr/sbin/nologin", name], { stdio: "pipe" }));
  return { name, uid, gid, remove: () => removeUser(name) };
}

/** Runs an account command, again while another test file holds the lock on /etc/passwd or /etc/group. */
function withAccountLock(run: () => unknown): void {
  for (let attempt = 1; ; attempt++) {
    try {
      run();
      return;
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? "");
      if (attempt >= 100 || !/lock/i.test(stderr)) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
}

/** Removes user and group `name`, if they exist. */
export function removeUser(name: string): void {
  for (const [command, args] of [["userdel", [name]], ["groupdel", [name]]] as const) {
    try {
      withAccountLock(() => execFileSync(command, [...args], { stdio: "pipe" }));
    } catch {
      // already gone
    }
  }
}
