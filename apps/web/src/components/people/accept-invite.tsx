"use client";
/** Accepting an invitation: the person sets a password, then signs in with it. */
import { useRouter } from "next/navigation";
import { useState } from "react";
import { trpc } from "@/lib/trpc-client.ts";
import { useHydrated } from "@/lib/use-hydrated.ts";
import { buttonCls, ErrorLine, errorText, inputCls } from "./ui.tsx";

export function AcceptInvite({ token, email }: { token: string; email: string }) {
  const router = useRouter();
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const hydrated = useHydrated();

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    if (password !== again) return setError("the two passwords differ: type the same one twice");
    setPending(true);
    setError(null);
    try {
      await trpc.invitations.accept.mutate({ token, password, name: name || undefined });
      router.replace(`/login?email=${encodeURIComponent(email)}`);
    } catch (err) {
      setError(errorText(err));
      setPending(false);
    }
  }

  return (
    <form onSubmit={submit} className="mt-6 space-y-4">
      <input id="invite-name" placeholder="Your name (optional)" value={name} onChange={(e) => setName(e.target.value)} className={inputCls} />
      <input id="invite-password" type="password" autoComplete="new-password" required minLength={8} placeholder="Password (8 characters or more)" value={password} onChange={(e) => setPassword(e.target.value)} className={inputCls} />
      <input id="invite-password-again" type="password" autoComplete="new-password" required placeholder="The password again" value={again} onChange={(e) => setAgain(e.target.value)} className={inputCls} />
      <ErrorLine error={error} testId="invite-error" />
      <button type="submit" disabled={pending || !hydrated} className={`w-full ${buttonCls}`}>
        {pending ? "Joining…" : "Set password and join"}
      </button>
    </form>
  );
}
