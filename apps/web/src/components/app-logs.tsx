"use client";
/**
 * The app's log, live (SSE from /api/apps/<name>/logs): its replicas' lines and the platform's
 * events, with the CLI's filters (process type, text, source). A filter change opens a new
 * stream with the recent lines that match; the view keeps the last MAX_LINES.
 */
import { useEffect, useRef, useState } from "react";
import { speaker, type AppLogEntry } from "@paas/shared/app-log";

const MAX_LINES = 1000;

export function AppLogs({ app, types }: { app: string; types: string[] }) {
  const [lines, setLines] = useState<AppLogEntry[]>([]);
  const [type, setType] = useState("");
  const [grep, setGrep] = useState("");
  const [src, setSrc] = useState("");
  const [state, setState] = useState<"connecting" | "live" | "reconnecting">("connecting");
  const box = useRef<HTMLDivElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    setLines([]);
    setState("connecting");
    const q = new URLSearchParams({ n: "200" });
    if (type) q.set("type", type);
    if (grep) q.set("grep", grep);
    if (src) q.set("src", src);
    // typing in the text filter: one stream once the typing stops, not one per key
    const timer = setTimeout(() => {
      const es = new EventSource(`/api/apps/${encodeURIComponent(app)}/logs?${q}`);
      let batch: AppLogEntry[] = [];
      let frame: ReturnType<typeof setTimeout> | undefined;
      es.onopen = () => setState("live");
      es.onerror = () => setState("reconnecting");
      es.onmessage = (msg) => {
        batch.push(JSON.parse(msg.data) as AppLogEntry);
        // a burst (the recent lines, a flood) is one render
        frame ??= setTimeout(() => {
          const add = batch;
          batch = [];
          frame = undefined;
          setLines((prev) => [...prev, ...add].slice(-MAX_LINES));
        }, 50);
      };
      cleanup = () => {
        clearTimeout(frame);
        es.close();
      };
    }, grep ? 300 : 0);
    let cleanup = () => clearTimeout(timer);
    return () => {
      clearTimeout(timer);
      cleanup();
    };
  }, [app, type, grep, src]);

  useEffect(() => {
    const el = box.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  const select = "rounded-md border border-slate-300 bg-white px-2 py-1 text-sm";
  return (
    <div data-testid="app-logs">
      <div className="flex flex-wrap items-center gap-2 border-b border-slate-100 px-5 py-2 text-sm">
        <select aria-label="Process type" className={select} value={type} onChange={(e) => setType(e.target.value)}>
          <option value="">all types</option>
          {types.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <select aria-label="Source" className={select} value={src} onChange={(e) => setSrc(e.target.value)}>
          <option value="">app and platform</option>
          <option value="app">app only</option>
          <option value="platform">platform only</option>
        </select>
        <input aria-label="Filter text" placeholder="filter text" className={`${select} w-48`} value={grep} onChange={(e) => setGrep(e.target.value)} />
        <span className="ml-auto text-xs text-slate-500" data-testid="app-logs-state">
          <span className={`mr-1 inline-block h-2 w-2 rounded-full ${state === "live" ? "bg-emerald-500" : "bg-amber-400"}`} />
          {state === "live" ? "live" : state}
        </span>
      </div>
      <div
        ref={box}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
        className="h-96 overflow-auto bg-slate-950 px-4 py-3 font-mono text-xs leading-5 text-slate-200"
      >
        {lines.length === 0 ? (
          <div className="text-slate-500">No lines yet{type || grep || src ? " that match" : ""}.</div>
        ) : (
          lines.map((e) => (
            <div key={e.id} data-testid="app-log-line" className="whitespace-pre-wrap break-all">
              <span className="text-slate-500">{e.t.replace("T", " ").replace("Z", "")}</span>{" "}
              <span className={e.src === "platform" ? "text-fuchsia-300" : e.stream === "stderr" ? "text-amber-300" : "text-cyan-300"}>{speaker(e)}</span>: {e.line}
            </div>
          ))
        )}
      </div>
    </div>
  );
}
