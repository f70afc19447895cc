/**
 * Server Components call the API in-process: the same router, context and
 * authorization as HTTP clients, built from the incoming request's headers.
 */
import { headers } from "next/headers";
import { TRPCError } from "@trpc/server";
import { notFound, redirect } from "next/navigation";
import { cache } from "react";
import { createCaller } from "./routers/_app.ts";
import { createContext } from "./trpc.ts";

export const getContext = cache(async () => createContext({ headers: new Headers(await headers()) }));

export async function serverCaller() {
  return createCaller(await getContext());
}

/** For pages behind sign-in: the caller, or a redirect to /login. */
export async function requireCaller() {
  const ctx = await getContext();
  if (!ctx.principal) redirect("/login");
  return createCaller(ctx);
}

/** API errors in pages: a missing or hidden app is a 404, a lost session goes to /login. */
export async function orNotFound<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof TRPCError && err.code === "NOT_FOUND") notFound();
    if (err instanceof TRPCError && err.code === "UNAUTHORIZED") redirect("/login");
    throw err;
  }
}
