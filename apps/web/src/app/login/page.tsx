import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { getContext } from "@/server/caller.ts";
import { LoginForm } from "./login-form.tsx";

export const metadata: Metadata = { title: "Sign in" };

export default async function LoginPage() {
  if ((await getContext()).principal) redirect("/");
  return (
    <div className="flex min-h-screen items-center justify-center bg-gradient-to-b from-slate-900 to-slate-800 px-4">
      <div className="w-full max-w-md">
        <div className="mb-8 flex items-center justify-center gap-3 text-white">
          <span className="grid size-10 place-items-center rounded-lg bg-gradient-to-br from-sky-400 to-indigo-500 text-lg font-bold">
            P
          </span>
          <span className="text-2xl font-semibold tracking-tight">PaaS</span>
        </div>
        <div className="rounded-2xl bg-white p-8 shadow-xl">
          <h1 className="text-lg font-semibold text-slate-900">Sign in</h1>
          <p className="mt-1 text-sm text-slate-500">
            Paste an API token. The bootstrap admin token is in{" "}
            <code className="rounded bg-slate-100 px-1 py-0.5 font-mono text-xs">$PAAS_DATA_DIR/admin-token</code>.
          </p>
          <LoginForm />
        </div>
      </div>
    </div>
  );
}
