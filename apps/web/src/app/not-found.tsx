import Link from "next/link";

export default function NotFound() {
  return (
    <div className="flex min-h-screen flex-col items-center justify-center gap-3 px-4 text-center">
      <p className="font-mono text-sm text-indigo-600">404</p>
      <h1 className="text-2xl font-semibold tracking-tight">Not found</h1>
      <p className="text-sm text-slate-500">This app or build does not exist, or you have no access to it.</p>
      <Link href="/" className="mt-2 text-sm font-medium text-indigo-600 hover:text-indigo-500">
        ← Back to your apps
      </Link>
    </div>
  );
}
