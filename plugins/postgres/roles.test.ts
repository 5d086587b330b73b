// Reading the roles of a pg_dumpall --globals-only script (the form PostgreSQL 15 writes), without a server.
import { describe, expect, it } from "vitest";
import { dumpedRoles, scriptStatements, withoutPasswords } from "./roles";

const HASH = "SCRAM-SHA-256$4096:HGG+RjorZkPL4NUCI/rXdQ==$7P7L5lN1WA4B58cb3KtIWll7eAWL+ZM7SEMExkzxnQ8=:hExdhLWolZ5EWL3nHxRdjYmlElI2AsKTCYbWSp9lnhg=";
const SCRIPT = `--
-- PostgreSQL database cluster dump
--

\\restrict HyvQ3uvvoafidb2aTCe1UE6R8TqdbSBuwqSdKGlWPpfXHm7BB5vq3l9fM3GRQy0

SET default_transaction_read_only = off;

--
-- Roles
--

CREATE ROLE "App User";
ALTER ROLE "App User" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 5 PASSWORD '${HASH}' VALID UNTIL '2030-01-01 00:00:00+00';
CREATE ROLE app;
ALTER ROLE app WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;
COMMENT ON ROLE app IS 'it''s the app; -- not a comment
second line';
CREATE ROLE postgres;
ALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;
CREATE ROLE reader;
ALTER ROLE reader WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;

--
-- User Configurations
--

ALTER ROLE app SET search_path TO 'public';

--
-- Role memberships
--

GRANT reader TO "App User" WITH ADMIN OPTION GRANTED BY postgres;
GRANT reader TO app GRANTED BY postgres;

GRANT SET ON PARAMETER work_mem TO app;

CREATE TABLESPACE fast OWNER postgres LOCATION '/srv/fast';

\\unrestrict HyvQ3uvvoafidb2aTCe1UE6R8TqdbSBuwqSdKGlWPpfXHm7BB5vq3l9fM3GRQy0

--
-- PostgreSQL database cluster dump complete
--
`;

describe("roles of a globals script", () => {
  it("splits statements at semicolons outside quotes, dropping comments and psql meta-commands", () => {
    const statements = scriptStatements(SCRIPT);
    expect(statements[0]).toBe("SET default_transaction_read_only = off;");
    expect(statements).toContain("COMMENT ON ROLE app IS 'it''s the app; -- not a comment\nsecond line';");
    expect(statements.some((s) => s.includes("restrict"))).toBe(false);
  });

  it("groups each role's statements and reads memberships and parameter privileges; tablespaces are not roles", () => {
    const dumped = dumpedRoles(SCRIPT);
    expect(dumped.roles.map((r) => r.name)).toEqual(["App User", "app", "postgres", "reader"]);
    expect(dumped.roles[1]!.statements).toEqual([
      "CREATE ROLE app;",
      "ALTER ROLE app WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;",
      "COMMENT ON ROLE app IS 'it''s the app; -- not a comment\nsecond line';",
      "ALTER ROLE app SET search_path TO 'public';",
    ]);
    expect(dumped.memberships).toEqual([
      { role: "reader", member: "App User", grantor: "postgres", statement: 'GRANT reader TO "App User" WITH ADMIN OPTION GRANTED BY postgres;' },
      { role: "reader", member: "app", grantor: "postgres", statement: "GRANT reader TO app GRANTED BY postgres;" },
    ]);
    expect(dumped.parameterGrants).toEqual([{ grantee: "app", statement: "GRANT SET ON PARAMETER work_mem TO app;" }]);
    expect(JSON.stringify(dumped)).not.toContain("TABLESPACE");
  });

  it("cuts password hashes out of what psql says, also from a statement line it cut short", () => {
    const said = `psql:<stdin>:3: ERROR:  syntax error at or near "WTIH"\nLINE 1: ALTER ROLE x WTIH LOGIN PASSWORD '${HASH}'\nLINE 1: ... PASSWORD '${HASH.slice(0, 30)}\nDETAIL: md5${"a".repeat(32)}`;
    const clean = withoutPasswords(said);
    expect(clean).not.toContain(HASH.slice(14, 30));
    expect(clean).not.toContain("a".repeat(32));
    expect(clean).toContain("syntax error");
  });
});
