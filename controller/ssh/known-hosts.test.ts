// known_hosts parsing and lookup, with files written by the test and by the real ssh-keygen.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addKnownHost, checkKnownHost, hostFieldMatches, knownKeyTypes, readKnownHostsFile } from "./known-hosts";

let dir: string;
let counter = 0;
/** Two real ed25519 public keys and one rsa key (type + base64), made by ssh-keygen. */
let keyA: [string, string];
let keyB: [string, string];
let keyRsa: [string, string];

function newKey(type: string): [string, string] {
  const file = path.join(dir, `key${counter++}`);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", file]);
  const [t, b] = fs.readFileSync(`${file}.pub`, "utf8").split(" ");
  return [t!, b!];
}

function knownHosts(text: string): string {
  const file = path.join(dir, `known_hosts_${counter++}`);
  fs.writeFileSync(file, text);
  return file;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-known-hosts-"));
  keyA = newKey("ed25519");
  keyB = newKey("ed25519");
  keyRsa = newKey("rsa");
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("known_hosts lookup", () => {
  it("matches a plain host name on port 22 and [host]:port on other ports", () => {
    const file = knownHosts(`web1.example.com ${keyA.join(" ")}\n[web1.example.com]:2222 ${keyB.join(" ")}\n`);
    expect(checkKnownHost([file], "web1.example.com", 22, ...keyA)).toMatchObject({ status: "match", line: 1 });
    expect(checkKnownHost([file], "web1.example.com", 2222, ...keyB)).toMatchObject({ status: "match", line: 2 });
    expect(checkKnownHost([file], "web1.example.com", 2200, ...keyA)).toEqual({ status: "unknown" });
  });

  it("matches names in comma lists and wildcards, case-insensitively, and honours !negations", () => {
    const file = knownHosts(`# fleet\n\nweb2,10.0.0.5,*.db.example.com,!secret.db.example.com ${keyA.join(" ")}\n`);
    expect(checkKnownHost([file], "10.0.0.5", 22, ...keyA).status).toBe("match");
    expect(checkKnownHost([file], "WEB2", 22, ...keyA).status).toBe("match");
    expect(checkKnownHost([file], "pg.db.example.com", 22, ...keyA).status).toBe("match");
    expect(checkKnownHost([file], "secret.db.example.com", 22, ...keyA).status).toBe("unknown");
  });

  it("matches hashed entries written by ssh-keygen -H, for port 22 and [host]:port", () => {
    const file = knownHosts(`app.example.com ${keyA.join(" ")}\n[127.0.0.1]:2201 ${keyB.join(" ")}\n`);
    execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" });
    const entries = readKnownHostsFile(file);
    expect(entries.map((e) => e.hosts.slice(0, 3))).toEqual(["|1|", "|1|"]);
    expect(checkKnownHost([file], "app.example.com", 22, ...keyA).status).toBe("match");
    expect(checkKnownHost([file], "127.0.0.1", 2201, ...keyB).status).toBe("match");
    expect(checkKnownHost([file], "127.0.0.1", 2202, ...keyB).status).toBe("unknown");
    expect(hostFieldMatches(entries[0]!.hosts, "other.example.com", 22)).toBe(false);
  });

  it("reports a host known with another key of the same type as a mismatch pointing at that line", () => {
    const file = knownHosts(`# comment\nweb3 ${keyA.join(" ")}\n`);
    expect(checkKnownHost([file], "web3", 22, ...keyB)).toEqual({ status: "mismatch", file, line: 2, keyType: "ssh-ed25519" });
  });

  it("reports a host known only with a key of another type as a mismatch too", () => {
    const file = knownHosts(`web4 ${keyRsa.join(" ")}\n`);
    expect(checkKnownHost([file], "web4", 22, ...keyA)).toMatchObject({ status: "mismatch", keyType: "ssh-rsa" });
    expect(knownKeyTypes([file], "web4", 22)).toEqual(["ssh-rsa"]);
  });

  it("accepts any of several recorded keys and searches every file in order", () => {
    const first = knownHosts(`web5 ${keyRsa.join(" ")}\n`);
    const second = knownHosts(`web5 ${keyA.join(" ")}\n`);
    expect(checkKnownHost([path.join(dir, "missing"), first, second], "web5", 22, ...keyA)).toEqual({ status: "match", file: second, line: 1 });
  });

  it("refuses a key marked @revoked even when another line trusts it", () => {
    const file = knownHosts(`web6 ${keyA.join(" ")}\n@revoked * ${keyA.join(" ")}\n`);
    expect(checkKnownHost([file], "web6", 22, ...keyA)).toEqual({ status: "revoked", file, line: 2 });
    expect(checkKnownHost([file], "web6", 22, ...keyB).status).toBe("mismatch");
  });

  it("ignores @cert-authority lines, unknown markers and malformed lines", () => {
    const file = knownHosts(`@cert-authority *.example.com ${keyA.join(" ")}\n@future web7 ${keyA.join(" ")}\nweb7 ssh-ed25519\n`);
    expect(checkKnownHost([file], "web7.example.com", 22, ...keyA).status).toBe("unknown");
    expect(checkKnownHost([file], "web7", 22, ...keyA).status).toBe("unknown");
  });
});

describe("recording a host key", () => {
  it("creates the directory 0700 and the file 0600, in [host]:port form, readable by ssh-keygen -F", () => {
    const file = path.join(dir, "fresh", "ssh", "known_hosts");
    addKnownHost(file, "127.0.0.1", 2222, ...keyA);
    addKnownHost(file, "plain.example.com", 22, ...keyB);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, "utf8")).toBe(`[127.0.0.1]:2222 ${keyA.join(" ")}\nplain.example.com ${keyB.join(" ")}\n`);
    expect(execFileSync("ssh-keygen", ["-F", "[127.0.0.1]:2222", "-f", file], { encoding: "utf8" })).toContain(keyA[1]);
    expect(checkKnownHost([file], "127.0.0.1", 2222, ...keyA).status).toBe("match");
  });

  it("starts a new line when the file does not end with one", () => {
    const file = knownHosts(`web8 ${keyRsa.join(" ")}`);
    addKnownHost(file, "web8", 22, ...keyA);
    expect(readKnownHostsFile(file).map((e) => e.keyType)).toEqual(["ssh-rsa", "ssh-ed25519"]);
  });
});
