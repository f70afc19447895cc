"use client";
/** Email and password sign-in (Better Auth's /api/auth/sign-in/email sets the session cookie). */
import { useRouter } from "next/navigation";
import { useState } from "react";
import { CSRF_HEADERS } from "@/lib/csrf.ts";
import { useHydrated } from "@/lib/use-hydrated.ts";
import { buttonCls, ErrorLine, inputCls } from "./ui.tsx";

export function PasswordSignIn({ email: initialEmail = "" }: { email?: string }) {
  const router = useRouter();
  const [email, setEmail] = useState(initialEmail);
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const hydrated = useHydrated();

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setPending(true);
    setError(null);
    try {
      const res = await fetch("/api/auth/sign-in/email", {
        method: "POST",
        headers: CSRF_HEADERS,
        body: JSON.stringify({ email, password }),
      });
      if (!res.ok) {
        const body = (await res.json().catch(() => null)) as { message?: string } | null;
        setError(
          res.status === 429
            ? "too many sign-in attempts: wait a minute, then try again"
            : (body?.message ?? `sign-in failed (HTTP ${res.status})`) + (res.status === 401 ? ": check the email and password" : ""),
        );
        setPending(false);
        return;
      }
      router.replace("/");
      router.refresh();
    } catch {
      setError("could not reach the server: is it running?");
      setPending(false);
    }
  }

  return (
    <form onSubmit={submit} className="mt-6 space-y-4" data-testid="password-sign-in">
      <div>
        <label htmlFor="email" className="block text-sm font-medium text-slate-700">
          Email
        </label>
        <input id="email" name="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} className={`mt-1.5 ${inputCls}`} />
      </div>
      <div>
        <label htmlFor="password" className="block text-sm font-medium text-slate-700">
          Password
        </label>
        <input id="password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} className={`mt-1.5 ${inputCls}`} />
      </div>
      <ErrorLine error={error} testId="password-error" />
      <button type="submit" disabled={pending || !hydrated} className={`w-full ${buttonCls}`}>
        {pending ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
