/** Bad options for a kind of sidecar: the message says what to give. (Apart from kinds.ts, which imports the kinds that throw it.) */
export class SidecarKindError extends Error {}
