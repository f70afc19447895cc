/** The app's public URL as a button-like link (opens in a new tab). */
export function AppUrlLink({ url, className = "" }: { url: string; className?: string }) {
  return (
    <a
      href={url}
      target="_blank"
      rel="noreferrer"
      data-testid="app-url"
      className={`inline-flex items-center gap-2 rounded-lg bg-indigo-600 px-3.5 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 ${className}`}
    >
      {url.replace(/^https?:\/\//, "").replace(/\/$/, "")}
      <span aria-hidden>↗</span>
    </a>
  );
}
