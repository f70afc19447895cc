"use client";
/**
 * False until the page's script runs. A form whose inputs hold a secret keeps its submit button
 * disabled until then: submitted before, the browser would send it as a GET, the secret in the
 * URL (history, logs); a disabled default button also keeps Enter from submitting it.
 */
import { useEffect, useState } from "react";

export function useHydrated(): boolean {
  const [hydrated, setHydrated] = useState(false);
  useEffect(() => setHydrated(true), []);
  return hydrated;
}
