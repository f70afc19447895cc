"use client";
import { useRouter } from "next/navigation";
import { useTransition } from "react";
import { CSRF_HEADERS } from "@/lib/csrf.ts";
import { trpc } from "@/lib/trpc-client.ts";

export function SignOutButton() {
  const router = useRouter();
  const [pending, start] = useTransition();
  return (
    <button
      type="button"
      disabled={pending}
      onClick={() =>
        start(async () => {
          // Both kinds of session: a pasted token's and a password sign-in's (Better Auth).
          await trpc.auth.signOut.mutate();
          await fetch("/api/auth/sign-out", { method: "POST", headers: CSRF_HEADERS, body: "{}" }).catch(() => {});
          router.replace("/login");
          router.refresh();
        })
      }
      className="rounded-md px-2.5 py-1.5 text-sm text-slate-300 hover:bg-white/10 hover:text-white disabled:opacity-50"
    >
      Sign out
    </button>
  );
}
