/** The typed API client; `AppRouter` comes from the web app's router (types only). */
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import superjson from "superjson";
import type { AppRouter } from "../../web/src/server/routers/_app.ts";
import { CliError, type Credentials } from "./credentials.ts";

export type Api = ReturnType<typeof makeClient>;

export function makeClient(creds: Credentials) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${creds.url}/api/trpc`,
        transformer: superjson,
        headers: { authorization: `Bearer ${creds.token}` },
      }),
    ],
  });
}

/** One line that says what went wrong, for any error an API call can throw. */
export function describeError(err: unknown, url?: string): string {
  if (err instanceof CliError) return err.message;
  if (err instanceof TRPCClientError) {
    const cause = (err as TRPCClientError<AppRouter>).cause as (Error & { cause?: { code?: string } }) | undefined;
    // A network failure has no tRPC error shape.
    if (!err.data && cause && (cause.name === "TypeError" || cause.cause?.code)) {
      const code = cause.cause?.code ? ` (${cause.cause.code})` : "";
      return `cannot reach the PaaS API at ${url ?? "its URL"}${code}: is it running? set PAAS_URL or run \`paas login\``;
    }
    if (!err.data) {
      return `unexpected answer from ${url ?? "the API"}: ${err.message.split("\n")[0]} (is PAAS_URL the dashboard's address?)`;
    }
    return err.message;
  }
  if (err instanceof Error) return err.message.split("\n")[0];
  return String(err);
}
