/**
 * Takes this platform's network off the host: its bridge, the iptables rules and chains that
 * name it and its ipsets (BridgeNetwork, which made them, knows their names). Run by
 * infra/down once the apps are gone; a no-op for what is gone already.
 */
import { config } from "@paas/shared";
import { HelperServer } from "../runtime/src/helper.ts";
import { BridgeNetwork } from "../runtime/src/network.ts";
import { Layout } from "../runtime/src/paths.ts";

const cfg = config();
// Unused by the teardown (plain ip/iptables/ipset runs): started only on a first request.
const helper = new HelperServer();
try {
  await new BridgeNetwork(new Layout(cfg.dataDir), { bridge: cfg.bridge, subnet: cfg.subnet }, helper).teardownHost();
} finally {
  helper.close();
}
