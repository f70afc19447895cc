"use client";
/** The browser's tRPC client (sign in/out); pages read data server-side. */
import { createTRPCClient, httpLink } from "@trpc/client";
import superjson from "superjson";
import { CSRF_HEADER } from "./csrf.ts";
import type { AppRouter } from "@/server/routers/_app.ts";

export const trpc = createTRPCClient<AppRouter>({
  // The CSRF header (lib/csrf.ts): its mutations are cookie-authenticated.
  links: [httpLink({ url: "/api/trpc", transformer: superjson, headers: { [CSRF_HEADER]: "1" } })],
});
