/** The line under an app panel's form that says what a change did, or why it was refused. */
export type Notice = { kind: "ok" | "error"; text: string } | null;

/** `testId` names the panel: the line is `<testId>-error` or `<testId>-status` for the browser tests. */
export function NoticeLine({ notice, testId, className = "mx-5 mt-3" }: { notice: Notice; testId: string; className?: string }) {
  if (!notice) return null;
  const error = notice.kind === "error";
  return (
    <p
      role={error ? "alert" : "status"}
      data-testid={`${testId}-${error ? "error" : "status"}`}
      className={`${className} rounded-lg px-3 py-2 text-sm ring-1 ring-inset ${error ? "bg-rose-50 text-rose-700 ring-rose-600/20" : "bg-emerald-50 text-emerald-700 ring-emerald-600/20"}`}
    >
      {notice.text}
    </p>
  );
}
