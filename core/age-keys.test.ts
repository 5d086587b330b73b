// age key pairs: what generateIdentity makes works with the stock CLI; isRecipient accepts exactly the recipients we can encrypt to.
import { execFileSync } from "node:child_process";
import { generateHybridIdentity, identityToRecipient } from "age-encryption";
import { describe, expect, it } from "vitest";
import { generateIdentity, isRecipient } from "./age-keys";

describe("age keys", () => {
  it("generates a classic X25519 pair whose recipient age-keygen derives from the identity", async () => {
    const { identity, recipient } = await generateIdentity();
    expect(identity).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    expect(recipient).toMatch(/^age1[0-9a-z]{58}$/);
    expect(execFileSync("age-keygen", ["-y"], { input: `${identity}\n` }).toString().trim()).toBe(recipient);
  });

  it("generates a different pair each time", async () => {
    const [a, b] = await Promise.all([generateIdentity(), generateIdentity()]);
    expect(a.identity).not.toBe(b.identity);
  });

  it("accepts X25519 recipients, including one made by age-keygen", async () => {
    expect(isRecipient((await generateIdentity()).recipient)).toBe(true);
    const keygen = execFileSync("age-keygen", [], { stdio: "pipe" }).toString();
    expect(isRecipient(/public key: (age1\S+)/.exec(keygen)![1]!)).toBe(true);
  });

  it("accepts post-quantum hybrid recipients (age1pq1...)", async () => {
    const pq = await identityToRecipient(await generateHybridIdentity());
    expect(pq.startsWith("age1pq1")).toBe(true);
    expect(isRecipient(pq)).toBe(true);
  });

  it("rejects anything else: bad checksum, upper case, whitespace, identities, other prefixes", async () => {
    const { identity, recipient } = await generateIdentity();
    const badChecksum = recipient.slice(0, -1) + (recipient.endsWith("q") ? "p" : "q");
    for (const s of [badChecksum, recipient.toUpperCase(), ` ${recipient}`, `${recipient}\n`, identity, "", "age1", "age1tag1qqqqqqqq", "ssh-ed25519 AAAA"]) {
      expect(isRecipient(s), s).toBe(false);
    }
  });
});
