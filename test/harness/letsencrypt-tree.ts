/** @module A real /etc/letsencrypt-shaped tree made with openssl: archive/ with numbered files, live/ symlinks, renewal/ configs. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** Adds certificate `name` (valid `days` days, for `names`) to the tree at `root`. */
export function addCertificate(root: string, name: string, names: string[], days: number): void {
  const archive = path.join(root, "archive", name);
  const live = path.join(root, "live", name);
  fs.mkdirSync(archive, { recursive: true, mode: 0o700 });
  fs.mkdirSync(live, { recursive: true });
  fs.mkdirSync(path.join(root, "renewal"), { recursive: true });
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", String(days),
    "-subj", `/CN=${names[0]}`, "-addext", `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}`,
    "-keyout", path.join(archive, "privkey1.pem"), "-out", path.join(archive, "cert1.pem"),
  ], { stdio: "ignore" });
  fs.chmodSync(path.join(archive, "privkey1.pem"), 0o600);
  fs.copyFileSync(path.join(archive, "cert1.pem"), path.join(archive, "chain1.pem"));
  fs.writeFileSync(path.join(archive, "fullchain1.pem"), fs.readFileSync(path.join(archive, "cert1.pem")));
  for (const file of ["cert", "chain", "fullchain", "privkey"]) fs.symlinkSync(`../../archive/${name}/${file}1.pem`, path.join(live, `${file}.pem`));
  fs.writeFileSync(path.join(root, "renewal", `${name}.conf`), `version = 2.1.0\narchive_dir = ${archive}\ncert = ${live}/cert.pem\n[renewalparams]\nauthenticator = webroot\n`);
}
