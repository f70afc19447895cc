/**
 * An app's outbound network (App.egress, @paas/shared egress.ts) as its replicas' container
 * spec: `egress: true` (on), `false` (off), or false with `egressAllow` (limited), the
 * destinations' host names resolved now, at deploy: each gets every IPv4 address it has.
 */
import { lookup } from "node:dns/promises";
import { parseEgressAllow, type ContainerSpec, type EgressAllowRule } from "@paas/shared";
import { PushError } from "./push-error.ts";

export type EgressSpec = Pick<ContainerSpec, "egress" | "egressAllow">;

export class EgressError extends PushError {}

export async function egressSpec(app: { name: string; egress: string; egressAllow: string }): Promise<{ spec: EgressSpec; said: string }> {
  if (app.egress === "off") return { spec: { egress: false }, said: "Outbound network: off" };
  if (app.egress !== "limited") return { spec: { egress: true }, said: "Outbound network: on" };
  const rules: EgressAllowRule[] = [];
  const said: string[] = [];
  for (const d of parseEgressAllow(app.egressAllow)) {
    const port = d.protocol === "udp" ? `${d.port}/udp` : String(d.port);
    if (d.cidr) {
      rules.push({ cidr: d.cidr, port: d.port, protocol: d.protocol });
      said.push(`${d.dest}:${port}`);
      continue;
    }
    const found = await lookup(d.dest, { all: true, family: 4 }).catch((err: NodeJS.ErrnoException) => {
      throw new EgressError(
        `${d.dest} (in the app's outbound allow list) does not resolve here (${err.code ?? err.message})`,
        `fix the list with paas apps:update -a ${app.name} --egress-allow LIST`,
      );
    });
    for (const a of found) rules.push({ cidr: `${a.address}/32`, port: d.port, protocol: d.protocol });
    said.push(`${d.dest}:${port} (${found.map((a) => a.address).join(", ")})`);
  }
  return { spec: { egress: false, egressAllow: rules }, said: `Outbound network: limited to ${said.join(", ")}` };
}
