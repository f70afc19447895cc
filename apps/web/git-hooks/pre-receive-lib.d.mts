// Types of pre-receive-lib.mjs, for the tests (tests/git).
export declare function wantsColor(env: Record<string, string | undefined>): boolean;
export declare function colorize(line: string): string;
export declare class LineSplitter {
  push(chunk: Uint8Array): string[];
  end(): string[];
}
export declare function renderEvent(ev: Record<string, unknown>, printed?: string[]): { print: string[]; done?: { ok: boolean } };
