/** The signed-in frame: top bar with the user, then the page. */
import Link from "next/link";
import { SignOutButton } from "./sign-out-button.tsx";

export function Shell({ email, children }: { email: string; children: React.ReactNode }) {
  return (
    <div className="min-h-screen">
      <header className="bg-slate-900">
        <div className="mx-auto flex h-14 max-w-6xl items-center justify-between px-6">
          <Link href="/" className="flex items-center gap-2.5 text-white">
            <span className="grid size-7 place-items-center rounded-md bg-gradient-to-br from-sky-400 to-indigo-500 text-sm font-bold">
              P
            </span>
            <span className="font-semibold tracking-tight">PaaS</span>
          </Link>
          <div className="flex items-center gap-3">
            <span data-testid="whoami" className="text-sm text-slate-400">
              {email}
            </span>
            <SignOutButton />
          </div>
        </div>
      </header>
      <main className="mx-auto max-w-6xl px-6 py-8">{children}</main>
    </div>
  );
}

export function Card({ title, action, children }: { title: string; action?: React.ReactNode; children: React.ReactNode }) {
  return (
    <section className="overflow-hidden rounded-xl bg-white shadow-sm ring-1 ring-slate-200">
      <div className="flex items-center justify-between border-b border-slate-100 px-5 py-3">
        <h2 className="text-sm font-semibold text-slate-900">{title}</h2>
        {action}
      </div>
      {children}
    </section>
  );
}

export function Empty({ children }: { children: React.ReactNode }) {
  return <div className="px-5 py-8 text-center text-sm text-slate-500">{children}</div>;
}
