// Types of build-log.mjs (the build log's format; see there).
export type LogEvent =
  | { id?: string; line: string }
  | { id?: string; status: "succeeded" | "failed"; url?: string; error?: string }
  | { notice: string };
export type BuildStatus = "succeeded" | "failed";
export type LineKind = "deployed" | "step" | "error" | "plain";

export declare const STEP_PREFIX: string;
export declare const INFO_INDENT: string;
export declare const ERROR_PREFIX: string;
export declare const STREAM_TTL_SECONDS: number;

export declare function lineEntry(line: string): string[];
export declare function endEntry(status: BuildStatus, detail?: { url?: string; error?: string }): string[];
export declare function entryToEvent(id: string, fields: string[]): LogEvent | null;
export declare function isEnd(ev: LogEvent): ev is Extract<LogEvent, { status: string }>;
export declare function toNdjson(ev: LogEvent): string;
export declare function toSse(ev: LogEvent): string;

export declare class LineSplitter {
  push(chunk: Uint8Array): string[];
  end(): string[];
}

export interface LogResponse {
  status: number;
  body: AsyncIterable<Uint8Array>;
  /** The reason of a non-200 answer. */
  error(): Promise<string>;
}
export declare function followNdjson(opts: {
  open(after: string): Promise<LogResponse>;
  onEvent(ev: LogEvent): void;
  retries?: number;
  pause?: (ms: number) => Promise<void>;
}): Promise<Extract<LogEvent, { status: string }>>;
export declare class FollowError extends Error {}

export declare function lineKind(line: string): LineKind;
export declare function colorize(line: string): string;
export declare function renderEvent(ev: LogEvent, printed?: string[]): { print: string[]; done?: { ok: boolean } };
