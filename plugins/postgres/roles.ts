/**
 * @module The roles of a snapshot's globals.sql (`pg_dumpall --globals-only`) on the
 * target server: the missing ones are created as they were dumped (attributes,
 * password hash, settings, comments, memberships, parameter privileges), in one
 * transaction; roles that exist are left as they are. Password hashes travel only
 * on psql's stdin and are cut out of anything psql says.
 */
import { concatBytes } from "../../core/bytes";
import { LifeboatError } from "../../core/errors";
import type { PluginContext, RestoreInput } from "../contract";
import type { ServiceTool } from "../common/service-tool";
import { pgEnv, postgresHint, psql, quoteIdent, quoteLiteral } from "./connection";
import type { PostgresConfig } from "./postgres";

/** One role of a globals script and the statements that make it what it was. */
export interface DumpedRole {
  name: string;
  /** CREATE ROLE, ALTER ROLE ... WITH (attributes, password hash), ALTER ROLE ... SET, COMMENT, SECURITY LABEL, in script order. */
  statements: string[];
}

/** A membership: `role` granted to `member`, the statement as dumped. */
export interface DumpedMembership {
  role: string;
  member: string;
  grantor?: string;
  statement: string;
}

/** What a globals script holds about roles. */
export interface DumpedRoles {
  roles: DumpedRole[];
  memberships: DumpedMembership[];
  /** GRANT ... ON PARAMETER statements, by grantee. */
  parameterGrants: { grantee: string; statement: string }[];
}

/** What {@link applyRoles} did. */
export interface RolesApplied {
  created: string[];
  /** Roles of the snapshot that exist here (or are the server's own superuser or the connecting user): not touched. */
  leftAlone: string[];
  /** Memberships of created roles that were not restored because the granted role is not here. */
  skippedMemberships: string[];
}

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const unquote = (ident: string) => (ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident);

/**
 * The SQL statements of a pg_dumpall script, each with its `;`: comments and
 * psql meta-commands (`\restrict`, `\connect`) are dropped; quoted strings and
 * identifiers may hold `;`, `--` and newlines.
 */
export function scriptStatements(script: string): string[] {
  const statements: string[] = [];
  let current = "";
  let i = 0;
  const atLineStart = () => current.trim() === "";
  while (i < script.length) {
    const c = script[i]!;
    if (c === "-" && script[i + 1] === "-") {
      const end = script.indexOf("\n", i);
      i = end < 0 ? script.length : end + 1;
    } else if (c === "\\" && atLineStart()) {
      const end = script.indexOf("\n", i);
      i = end < 0 ? script.length : end + 1;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      for (;;) {
        j = script.indexOf(c, j);
        if (j < 0) {
          j = script.length;
          break;
        }
        if (script[j + 1] === c) j += 2;
        else break;
      }
      current += script.slice(i, j + 1);
      i = j + 1;
    } else if (c === ";") {
      statements.push(`${current.trim()};`);
      current = "";
      i++;
    } else {
      current += c;
      i++;
    }
  }
  return statements;
}

/** Reads the roles, memberships and parameter privileges of a globals script (tablespaces and anything else are not roles). */
export function dumpedRoles(script: string): DumpedRoles {
  const roles = new Map<string, DumpedRole>();
  const memberships: DumpedMembership[] = [];
  const parameterGrants: DumpedRoles["parameterGrants"] = [];
  const own = (name: string, statement: string) => roles.get(name)?.statements.push(statement);
  for (const statement of scriptStatements(script)) {
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^CREATE ROLE (${IDENT});$`).exec(statement))) {
      const name = unquote(m[1]!);
      roles.set(name, { name, statements: [statement] });
    } else if ((m = new RegExp(`^ALTER ROLE (${IDENT}) (?:WITH|SET|RESET) `).exec(statement))) {
      own(unquote(m[1]!), statement);
    } else if ((m = new RegExp(`^(?:COMMENT ON ROLE|SECURITY LABEL FOR ${IDENT} ON ROLE) (${IDENT}) IS `).exec(statement))) {
      own(unquote(m[1]!), statement);
    } else if ((m = new RegExp(`^GRANT (${IDENT}) TO (${IDENT})(?: WITH [^;]*?)?(?: GRANTED BY (${IDENT}))?;$`).exec(statement))) {
      memberships.push({ role: unquote(m[1]!), member: unquote(m[2]!), ...(m[3] ? { grantor: unquote(m[3]) } : {}), statement });
    } else if ((m = new RegExp(`^GRANT .* ON PARAMETER .* TO (${IDENT})(?: WITH GRANT OPTION)?;$`, "s").exec(statement))) {
      parameterGrants.push({ grantee: unquote(m[1]!), statement });
    }
  }
  return { roles: [...roles.values()], memberships, parameterGrants };
}

/** `text` without password hashes or PASSWORD literals (psql echoes a failing statement's line). */
export function withoutPasswords(text: string): string {
  return text
    .replace(/PASSWORD\s+'(?:[^']|'')*'?/gi, "PASSWORD '(hidden)'")
    .replace(/SCRAM-SHA-256\$\S+/g, "SCRAM-SHA-256$(hidden)")
    .replace(/\bmd5[0-9a-f]{32}\b/g, "md5(hidden)");
}

/**
 * Creates the roles of `script` that do not exist on the server, as dumped, in one
 * transaction (all or none). Never touched: roles that exist (not altered, no
 * memberships added to them), the server's bootstrap superuser, the connecting
 * user, `pg_*` roles. A created role gets its memberships in roles that exist
 * here or were created; a membership naming a grantor that is not here is
 * granted without GRANTED BY.
 * @throws RESTORE (password hashes cut out) when the server refuses; nothing was created then.
 */
export async function applyRoles(tool: ServiceTool, config: PostgresConfig, script: string): Promise<RolesApplied> {
  const dumped = dumpedRoles(script);
  // As JSON: a role name may hold any character, newlines too.
  const [answer] = await psql(tool, config, "postgres", "SELECT json_build_array(current_user, (SELECT rolname FROM pg_roles WHERE oid = 10), (SELECT json_agg(rolname) FROM pg_roles));");
  const [current, bootstrap, names] = JSON.parse(answer!) as [string, string, string[]];
  const present = new Set(names);
  const untouchable = (name: string) => present.has(name) || name === current || name === bootstrap || name.startsWith("pg_");
  const created = dumped.roles.filter((r) => !untouchable(r.name));
  const leftAlone = dumped.roles.filter((r) => untouchable(r.name)).map((r) => r.name);
  const isNew = new Set(created.map((r) => r.name));
  const after = new Set([...present, ...isNew]);
  const statements = created.flatMap((r) => r.statements);
  const skippedMemberships: string[] = [];
  for (const m of dumped.memberships.filter((m) => isNew.has(m.member))) {
    if (!after.has(m.role)) {
      skippedMemberships.push(`${m.member} in ${m.role}`);
      continue;
    }
    const grantorMissing = m.grantor !== undefined && !after.has(m.grantor);
    statements.push(grantorMissing ? m.statement.replace(new RegExp(` GRANTED BY ${IDENT};$`), ";") : m.statement);
  }
  statements.push(...dumped.parameterGrants.filter((g) => isNew.has(g.grantee)).map((g) => g.statement));
  if (created.length === 0) return { created: [], leftAlone, skippedMemberships };
  const result = await tool.run(config.tools.psql, ["-X", "-q", "-v", "ON_ERROR_STOP=1"], { env: pgEnv(config, "postgres"), stdin: `BEGIN;\n${statements.join("\n")}\nCOMMIT;\n` });
  if (result.code !== 0) {
    const detail = withoutPasswords(result.stderr.trim().split("\n").filter((l) => !/^LINE \d+:|^\s*\^/.test(l)).slice(-2).join(" | "));
    throw new LifeboatError("RESTORE", `Cannot create the roles ${created.map((r) => `"${r.name}"`).join(", ")} of the snapshot on ${config.host}:${config.port} (none was created): ${detail}`, {
      hint: /permission denied|must be superuser|must have/i.test(detail)
        ? `connect as a superuser (user: in the plugin's settings), or create the roles by hand and set restore: { roles: false }`
        : (postgresHint(detail) ?? "set restore: { roles: false } to restore without them (databases are then owned by the plugin's user)"),
    });
  }
  return { created: created.map((r) => r.name), leftAlone, skippedMemberships };
}

/**
 * Drops roles {@link applyRoles} created, when the restore they were made for failed.
 * @returns false when the server refused (something uses them by now); never throws.
 */
export async function dropRoles(tool: ServiceTool, config: PostgresConfig, roles: string[]): Promise<boolean> {
  if (roles.length === 0) return true;
  const sql = `BEGIN;\n${roles.map((r) => `DROP ROLE IF EXISTS ${quoteIdent(r)};`).join("\n")}\nCOMMIT;`;
  return psql(tool, config, "postgres", sql).then(
    () => true,
    () => false,
  );
}

/** One query that confirms the roles exist: @returns those missing. */
export async function missingRoles(tool: ServiceTool, config: PostgresConfig, roles: string[]): Promise<string[]> {
  if (roles.length === 0) return [];
  return psql(tool, config, "postgres", `SELECT r FROM unnest(ARRAY[${roles.map(quoteLiteral).join(",")}]::text[]) AS r WHERE r NOT IN (SELECT rolname FROM pg_roles);`);
}

/**
 * Reads the snapshot's globals.sql (completely: its integrity is checked at the
 * end of the stream), applies its roles with {@link applyRoles}, and confirms
 * the created roles are there. @returns what was done, with the checks in words.
 */
export async function restoreRoles(ctx: PluginContext, tool: ServiceTool, config: PostgresConfig, globals: RestoreInput): Promise<RolesApplied & { checks: string[] }> {
  const parts: Uint8Array[] = [];
  for await (const chunk of globals.open()) parts.push(chunk);
  const script = new TextDecoder().decode(concatBytes(parts));
  if (!script.includes("PostgreSQL database cluster dump")) throw new LifeboatError("INTEGRITY", `Cannot restore the roles: the stored ${globals.record.name} is not a pg_dumpall script`, { hint: "restore from another snapshot, or set restore: { roles: false }" });
  const applied = await applyRoles(tool, config, script);
  const absent = await missingRoles(tool, config, applied.created);
  if (absent.length > 0) throw new LifeboatError("RESTORE", `Cannot restore the roles: ${absent.join(", ")} not found after they were created`);
  for (const m of applied.skippedMemberships) ctx.warn(`role membership ${m} of the snapshot is not restored: the granted role is not here`);
  ctx.log(`roles: created ${applied.created.join(", ") || "none"}; left alone (already here): ${applied.leftAlone.join(", ") || "none"}`);
  const checks = [
    ...(applied.created.length > 0 ? [`roles created from ${globals.record.name}, present with their attributes and memberships: ${applied.created.join(", ")}`] : []),
    ...(applied.leftAlone.length > 0 ? [`roles of ${globals.record.name} already here, left alone: ${applied.leftAlone.join(", ")}`] : []),
  ];
  return { ...applied, checks };
}
