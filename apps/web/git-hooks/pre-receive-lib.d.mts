// Types of pre-receive-lib.mjs, for the tests (tests/git).
export interface RefUpdate {
  oldSha: string;
  newSha: string;
  ref: string;
}
export declare function isNullSha(sha: string): boolean;
export declare function parseUpdates(text: string): RefUpdate[];
export declare function decidePush(
  updates: RefUpdate[],
  deployBranch: string,
  opts?: { previews?: boolean },
): { build: RefUpdate | null; refusals: string[]; preview?: { branch: string } | null; destroyPreview?: string | null };
export declare function wantsColor(env: Record<string, string | undefined>): boolean;
export declare function colorize(line: string): string;
export declare class LineSplitter {
  push(chunk: Uint8Array): string[];
  end(): string[];
}
export declare function renderEvent(ev: Record<string, unknown>, printed?: string[]): { print: string[]; done?: { ok: boolean } };
