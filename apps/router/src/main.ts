/** Starts the router on PAAS_HTTP_PORT, following the routes published in Redis. */
import { config } from "@paas/shared";
import { RoutingTable } from "./table.ts";
import { createRouterServer } from "./server.ts";
import { followRoutes } from "./redis-source.ts";

const cfg = config();
const table = new RoutingTable(cfg.domain);
const stop = await followRoutes(table, cfg.redisUrl);
const { server } = createRouterServer(table);
server.listen(cfg.httpPort, () => {
  console.log(`router: listening on :${cfg.httpPort} for *.${cfg.domain} (${table.size} routes)`);
});

const shutdown = () => {
  server.close();
  void stop().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
