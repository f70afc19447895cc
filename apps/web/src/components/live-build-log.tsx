"use client";
/**
 * A build's log that grows line by line while the build runs (SSE from
 * /api/builds/<id>/events); once it ends the page re-renders with the stored log.
 */
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { isEnd, STEP_PREFIX, type LogEvent } from "@paas/shared/build-log";
import { BuildLog } from "./build-log.tsx";

export function LiveBuildLog({ buildId, maxHeight }: { buildId: string; maxHeight?: string }) {
  const router = useRouter();
  const [lines, setLines] = useState<string[]>([]);
  const [ended, setEnded] = useState(false);
  useEffect(() => {
    const es = new EventSource(`/api/builds/${encodeURIComponent(buildId)}/events`);
    // One re-render for a burst of steps (the replay of a build opened midway).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refreshSoon = () => {
      clearTimeout(timer);
      timer = setTimeout(() => router.refresh(), 300);
    };
    es.onmessage = (msg) => {
      const ev = JSON.parse(msg.data) as LogEvent;
      if (!isEnd(ev)) {
        const text = "line" in ev ? ev.line : ev.notice;
        setLines((prev) => [...prev, text]);
        // A new step is when the page's facts change (queued -> building, the builder found):
        // re-render them around the log, which keeps its lines.
        if ("line" in ev && ev.line.startsWith(STEP_PREFIX)) refreshSoon();
      } else {
        es.close();
        setEnded(true);
      }
    };
    return () => {
      clearTimeout(timer);
      es.close();
    };
  }, [buildId, router]);
  useEffect(() => {
    // The worker ends the stream only once the build's row is final: one re-render shows it
    // (and unmounts this component).
    if (ended) router.refresh();
  }, [ended, router]);
  return (
    <div data-testid="live-build-log">
      <BuildLog log={lines.join("\n")} maxHeight={maxHeight} />
    </div>
  );
}
