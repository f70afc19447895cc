/** `paas domains`, `domains:add HOST`, `domains:remove HOST`, `certs:add CERT KEY`. */
import fs from "node:fs";
import type { Command } from "commander";
import { CliError } from "./credentials.ts";
import { resolveApp } from "./git.ts";
import { heading, json, pc, table, when } from "./output.ts";
import { appCommand, type CommandKit } from "./kit.ts";

type AppOpts = { app?: string; remote: string; json?: boolean };

function readPem(file: string, what: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read the ${what} file ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
}

export function domainCommands(program: Command, kit: CommandKit): void {
  const { api, run } = kit;

  appCommand(program, "domains", { json: true })
    .description("an app's custom domains and their certificates")
    .action(
      run(async (opts: AppOpts) => {
        const app = resolveApp(opts.app, opts.remote);
        const domains = await api().domains.list.query({ app });
        if (opts.json) return json(domains);
        if (domains.length === 0) return console.log(`${app} has no custom domains: paas domains:add www.example.com -a ${app}`);
        console.log(heading(`${app} Custom Domains`));
        console.log(
          table(
            ["DOMAIN", "CERTIFICATE", "EXPIRES", "ADDED"],
            domains.map((d) => [d.hostname, d.cert ? (d.cert.issuer ?? "") : pc.dim("default (self-signed *.domain)"), d.cert ? when(d.cert.expiresAt).slice(0, 10) : "", when(d.createdAt)]),
          ),
        );
      }),
    );

  appCommand(program, "domains:add", { json: true })
    .description("serve the app at a domain of yours too (point its DNS at the platform's router)")
    .argument("<host>", "a host name, e.g. www.example.com (no wildcards)")
    .action(
      run(async (host: string, opts: AppOpts) => {
        const app = resolveApp(opts.app, opts.remote);
        const d = await api().domains.add.mutate({ app, hostname: host });
        if (opts.json) return json(d);
        console.log(`Added ${pc.bold(d.hostname)} to ${app}: ${d.url}`);
        console.log(pc.dim(`Point ${d.hostname}'s DNS (a CNAME or an A record) at this platform's router; TLS uses the router's default certificate until \`paas certs:add CERT KEY -a ${app}\`.`));
      }),
    );

  appCommand(program, "domains:remove", { json: true })
    .description("stop serving the app at a custom domain (its certificate goes too)")
    .argument("<host>", "the domain, as `paas domains` lists it")
    .action(
      run(async (host: string, opts: AppOpts) => {
        const app = resolveApp(opts.app, opts.remote);
        const r = await api().domains.remove.mutate({ app, hostname: host });
        if (opts.json) return json(r);
        console.log(`Removed ${pc.bold(r.hostname)} from ${app}.`);
      }),
    );

  appCommand(program, "certs:add", { json: true })
    .description("a TLS certificate and its key (PEM files) for the app's domains it covers; replaces an older one")
    .argument("<cert>", "the certificate file (the domain's certificate first, then any intermediates)")
    .argument("<key>", "its private key file (unencrypted)")
    .action(
      run(async (certFile: string, keyFile: string, opts: AppOpts) => {
        const app = resolveApp(opts.app, opts.remote);
        const r = await api().domains.addCert.mutate({ app, cert: readPem(certFile, "certificate"), key: readPem(keyFile, "key") });
        if (opts.json) return json(r);
        console.log(`Certificate for ${r.names.join(", ")} (issuer ${r.issuer}, expires ${when(r.expiresAt).slice(0, 10)}) now serves ${r.domains.map((d) => pc.bold(d)).join(", ")}.`);
        if (r.uncovered.length) console.log(pc.dim(`Not covered by it (the default certificate still serves them): ${r.uncovered.join(", ")}`));
      }),
    );
}
