import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { getContext } from "@/server/caller.ts";
import { LoginForm } from "./login-form.tsx";
import { PasswordSignIn } from "@/components/people/password-sign-in.tsx";

export const metadata: Metadata = { title: "Sign in" };

export default async function LoginPage({ searchParams }: { searchParams: Promise<{ email?: string }> }) {
  const { email } = await searchParams;
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
          <p className="mt-1 text-sm text-slate-500">With the email and password you set from your invitation link.</p>
          <PasswordSignIn email={email} />
          <div className="mt-8 border-t border-slate-100 pt-6">
            <h2 className="text-sm font-semibold text-slate-900">Or paste an API token</h2>
            <p className="mt-1 text-sm text-slate-500">
              The bootstrap admin token is in{" "}
              <code className="rounded bg-slate-100 px-1 py-0.5 font-mono text-xs">$PAAS_DATA_DIR/admin-token</code>; a session from a
              team token keeps its limits.
            </p>
            <LoginForm />
          </div>
        </div>
      </div>
    </div>
  );
}
