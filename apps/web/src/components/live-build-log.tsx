"use client";
/**
 * A build's log that grows line by line while the build runs (SSE from
 * /api/builds/<id>/events); once it ends the page re-renders with the stored log.
 */
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { BuildLog } from "./build-log.tsx";

export function LiveBuildLog({ buildId, maxHeight }: { buildId: string; maxHeight?: string }) {
  const router = useRouter();
  const [lines, setLines] = useState<string[]>([]);
  const [ended, setEnded] = useState(false);
  useEffect(() => {
    const es = new EventSource(`/api/builds/${encodeURIComponent(buildId)}/events`);
    es.onmessage = (msg) => {
      const ev = JSON.parse(msg.data) as { line?: string; notice?: string; status?: string };
      if (typeof ev.line === "string" || typeof ev.notice === "string") {
        const text = (ev.line ?? ev.notice) as string;
        setLines((prev) => [...prev, text]);
      } else if (ev.status) {
        es.close();
        setEnded(true);
      }
    };
    return () => es.close();
  }, [buildId]);
  useEffect(() => {
    if (!ended) return;
    // The worker writes the end of the stream just before the build's row: a page rendered in
    // between still says "building". Re-render until it does not (this component then unmounts).
    router.refresh();
    const id = setInterval(() => router.refresh(), 1000);
    return () => clearInterval(id);
  }, [ended, router]);
  return (
    <div data-testid="live-build-log">
      <BuildLog log={lines.join("\n")} maxHeight={maxHeight} />
    </div>
  );
}
