/**
 * Teams, people and tokens: `teams`, `teams:create NAME`, `members -t T`,
 * `members:add EMAIL --role R -t T` (prints the invitation link), `members:remove EMAIL -t T`,
 * `members:role EMAIL ROLE -t T`, `invitations -t T`, `apps:transfer TEAM -a APP` (operators),
 * `tokens`, `tokens:create --team T [--name N] [--expires 30d] [--role member|viewer]`,
 * `tokens:revoke ID`.
 */
import { Option, type Command } from "commander";
import { resolveCredentials } from "./credentials.ts";
import { resolveApp } from "./git.ts";
import { heading, json, pc, status, table, when } from "./output.ts";
import { appCommand, jsonOption, type CommandKit } from "./kit.ts";

const teamOption = () => new Option("-t, --team <team>", "the team").makeOptionMandatory();
const roleChoices = ["admin", "member", "viewer"];

export function teamCommands(program: Command, kit: CommandKit): void {
  const { api, run } = kit;

  program
    .command("teams")
    .description("the teams you belong to, with your role")
    .addOption(jsonOption())
    .action(
      run(async (opts: { json?: boolean }) => {
        const teams = await api().teams.list.query();
        if (opts.json) return json(teams);
        if (teams.length === 0) return console.log("You are in no team yet: ask a team admin for an invitation.");
        console.log(table(["NAME", "ROLE", "APPS", "MEMBERS"], teams.map((t) => [t.name, t.role ?? "", `${t.apps}/${t.quota.apps}`, String(t.members)])));
      }),
    );

  program
    .command("teams:create")
    .description("create a team (operators); you become its first admin")
    .argument("<name>", "lowercase letters, digits and dashes")
    .addOption(jsonOption())
    .action(
      run(async (name: string, opts: { json?: boolean }) => {
        const t = await api().teams.create.mutate({ team: name });
        if (opts.json) return json(t);
        console.log(`Created team ${pc.bold(t.name)}. Invite people: paas members:add EMAIL --role member -t ${t.name}`);
      }),
    );

  program
    .command("members")
    .description("a team's members and their roles")
    .addOption(teamOption())
    .addOption(jsonOption())
    .action(
      run(async (opts: { team: string; json?: boolean }) => {
        const ms = await api().teams.members.query({ team: opts.team });
        if (opts.json) return json(ms);
        console.log(heading(`${opts.team} Members`));
        console.log(table(["EMAIL", "ROLE", "SINCE"], ms.map((m) => [m.email, m.role, when(m.since)])));
      }),
    );

  program
    .command("members:add")
    .description("invite someone to a team: prints a link (with an expiry) where they set a password")
    .argument("<email>", "their email address")
    .addOption(new Option("--role <role>", "admin, member (deploys, scales, reads) or viewer (reads)").choices(roleChoices).default("member"))
    .addOption(new Option("--expires-hours <n>", "how long the link is valid").default("168"))
    .addOption(teamOption())
    .addOption(jsonOption())
    .action(
      run(async (email: string, opts: { role: "admin" | "member" | "viewer"; team: string; expiresHours: string; json?: boolean }) => {
        const r = await api().teams.addMember.mutate({ team: opts.team, email, role: opts.role, expiresInHours: Number(opts.expiresHours) });
        // The link as this CLI reaches the dashboard.
        const link = r.invitation ? resolveCredentials().url + r.invitation.path : null;
        if (opts.json) return json({ ...r, link });
        if (!r.invitation) return console.log(`Added ${pc.bold(email)} to ${opts.team} as ${r.role} (they have an account already).`);
        console.log(`Invited ${pc.bold(email)} to ${opts.team} as ${r.role}. Send them this link (valid until ${when(r.invitation.expiresAt)}):`);
        console.log(link);
      }),
    );

  program
    .command("members:remove")
    .description("remove someone from a team (or leave it: your own email); the last admin cannot")
    .argument("<email>", "their email address")
    .addOption(teamOption())
    .addOption(jsonOption())
    .action(
      run(async (email: string, opts: { team: string; json?: boolean }) => {
        const r = await api().teams.removeMember.mutate({ team: opts.team, email });
        if (opts.json) return json(r);
        console.log(`Removed ${pc.bold(email)} from ${opts.team} (their tokens for it are revoked).`);
      }),
    );

  program
    .command("members:role")
    .description("change a member's role; the last admin cannot be demoted")
    .argument("<email>", "their email address")
    .argument("<role>", "admin, member or viewer")
    .addOption(teamOption())
    .addOption(jsonOption())
    .action(
      run(async (email: string, role: string, opts: { team: string; json?: boolean }) => {
        const r = await api().teams.setRole.mutate({ team: opts.team, email, role: role as "admin" });
        if (opts.json) return json(r);
        console.log(`${pc.bold(email)} is now ${r.role} in ${opts.team}.`);
      }),
    );

  program
    .command("invitations")
    .description("a team's pending invitations (admins)")
    .addOption(teamOption())
    .addOption(jsonOption())
    .action(
      run(async (opts: { team: string; json?: boolean }) => {
        const rows = await api().teams.invitations.query({ team: opts.team });
        if (opts.json) return json(rows);
        if (rows.length === 0) return console.log(`No pending invitations in ${opts.team}.`);
        console.log(table(["ID", "EMAIL", "ROLE", "EXPIRES"], rows.map((i) => [i.id, i.email, i.role, i.expired ? pc.red("expired") : when(i.expiresAt)])));
      }),
    );

  appCommand(program, "apps:transfer", { json: true })
    .description("move an app to another team (platform operators)")
    .argument("<team>", "the team to move it to")
    .action(
      run(async (team: string, opts: { app?: string; remote: string; json?: boolean }) => {
        const r = await api().teams.moveApp.mutate({ app: resolveApp(opts.app, opts.remote), team });
        if (opts.json) return json(r);
        console.log(`Moved ${pc.bold(r.app)} from ${r.from} to ${r.to}${r.restarted ? ` (its replicas restarted in ${r.to}'s cgroup)` : ""}.`);
        // The move stands; a replica not replaced runs in the old team's cgroup until its next restart.
        for (const n of r.notRestarted) console.error(`${pc.yellow("warning")} ${n.app} was not restarted (${n.error}): its replicas count to ${r.from}'s cgroup until you run paas ps:restart -a ${n.app}`);
      }),
    );

  program
    .command("tokens")
    .description("your API tokens (and, for team admins, their teams' tokens)")
    .addOption(jsonOption())
    .action(
      run(async (opts: { json?: boolean }) => {
        const rows = await api().tokens.list.query();
        if (opts.json) return json(rows);
        if (rows.length === 0) return console.log("No API tokens: paas tokens:create --team T");
        console.log(
          table(
            ["ID", "NAME", "TEAM", "ROLE", "OWNER", "STATE", "EXPIRES", "LAST USED"],
            rows.map((t) => [t.id, t.name, t.team ?? pc.dim("all"), t.role ?? pc.dim("user's"), t.owner, status(t.state), when(t.expiresAt), when(t.lastUsedAt)]),
          ),
        );
      }),
    );

  program
    .command("tokens:create")
    .description("make an API token restricted to one team; it is shown once")
    .requiredOption("--team <team>", "the team it acts in (only there)")
    .option("--name <name>", "a name to tell it apart", "cli")
    .option("--expires <duration>", "e.g. 30d, 12h, 1w (default: never)")
    .addOption(new Option("--role <role>", "at most your own role").choices(["member", "viewer"]).default("member"))
    .addOption(jsonOption())
    .action(
      run(async (opts: { team: string; name: string; expires?: string; role: "member" | "viewer"; json?: boolean }) => {
        const t = await api().tokens.create.mutate({ team: opts.team, name: opts.name, expires: opts.expires, role: opts.role });
        if (opts.json) return json({ token: t.token, id: t.id, team: t.team, role: t.role, expiresAt: t.expiresAt });
        console.log(t.token);
        process.stderr.write(pc.dim(`Token ${t.id} for team ${t.team} as ${t.role}${t.expiresAt ? `, expires ${when(t.expiresAt)}` : ""}. It is shown only now.\n`));
      }),
    );

  program
    .command("tokens:revoke")
    .description("revoke an API token at once")
    .argument("<id>", "the token's ID (paas tokens)")
    .addOption(jsonOption())
    .action(
      run(async (id: string, opts: { json?: boolean }) => {
        const r = await api().tokens.revoke.mutate({ id });
        if (opts.json) return json(r);
        console.log(`Revoked token ${r.id} (${r.name}).`);
      }),
    );
}
