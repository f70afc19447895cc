import type { BlockList } from "node:net";

export function trustedProxies(list?: string): BlockList;
export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: BlockList): string;
export function install(env?: NodeJS.ProcessEnv): void;
