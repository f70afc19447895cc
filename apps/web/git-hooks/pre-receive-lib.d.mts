// Types of pre-receive-lib.mjs, for the tests (tests/git).
export declare function wantsColor(env: Record<string, string | undefined>): boolean;
