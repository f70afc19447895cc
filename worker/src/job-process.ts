/**
 * The worker's jobs run in a child process (job-runner.ts), started by the first job and
 * stopped once it has had none for LINGER_MS. What a job needs (the database client with
 * Prisma's query compiler, the pipeline, the agent client) takes ~50 MB that an idle worker
 * then does not hold: between pushes the worker is only its queue consumer (main.ts).
 * The cost is the child's start, paid by the first job after a quiet spell; jobs that
 * follow one another share one child.
 *
 * Messages: parent -> child JobRequest, child -> parent JobReply (by id). The child's
 * output goes to the worker's own stdout and stderr.
 */
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import type { BuildJobData, DeployJobData, DeployJobResult } from "@paas/shared/redis-keys";


export type JobRequest = { id: number } & ({ kind: "build"; data: BuildJobData } | { kind: "deploy"; jobId: string; data: DeployJobData } | { kind: "reconcile" });
export type JobReply = { id: number } & ({ ok: true; result: JobResult } | { ok: false; error: string });
type JobResult = BuildResult | DeployJobResult | ReconcileResult;
/** A reconcile pass: what it did, per app it changed something of. */
export interface ReconcileResult {
  changed: { app: string; started: number; removed: number; rerouted: boolean }[];
}
export interface BuildResult {
  status: "succeeded" | "failed";
}

/**
 * How long the child outlives its last job (PAAS_WORKER_LINGER_SECONDS, main.ts): pushes of
 * one sitting (edit, push, look, push again) find it running; a platform left alone gets its
 * memory back within minutes. Its start costs ~1 s here (a push 2.1-2.6 s instead of 1.2-1.3 s).
 */
export const LINGER_MS = 300_000;

/** infra/build-services.mjs defines it in its bundles (their dir); under tsx it is not, and the source runs. */
declare const PAAS_SERVICES_DIR: string | undefined;
const RUNNER =
  typeof PAAS_SERVICES_DIR === "string" ? path.join(PAAS_SERVICES_DIR, "worker-jobs.mjs") : path.join(import.meta.dirname, "job-runner.ts");

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Pending = { resolve: (r: JobResult) => void; reject: (e: Error) => void };

export class JobProcess {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  /** `runner`: the child's entry (a stand-in in job-process.test.ts). */
  constructor(
    private readonly lingerMs = LINGER_MS,
    private readonly runner = RUNNER,
  ) {}

  /** The child's pid while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  build(data: BuildJobData): Promise<BuildResult> {
    return this.run({ kind: "build", data }) as Promise<BuildResult>;
  }

  deploy(jobId: string, data: DeployJobData): Promise<DeployJobResult> {
    return this.run({ kind: "deploy", jobId, data }) as Promise<DeployJobResult>;
  }

  /** A reconcile pass (asked for only when something changed: reconcile-watch.ts). */
  reconcile(): Promise<ReconcileResult> {
    return this.run({ kind: "reconcile" }) as Promise<ReconcileResult>;
  }

  private run(job: DistributiveOmit<JobRequest, "id">): Promise<JobResult> {
    clearTimeout(this.idleTimer);
    const child = (this.child ??= this.start());
    const id = ++this.nextId;
    return new Promise<JobResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      child.send({ id, ...job } as JobRequest);
    }).finally(() => {
      if (this.pending.size === 0) this.idleTimer = setTimeout(() => void this.stop(), this.lingerMs).unref();
    });
  }

  private start(): ChildProcess {
    // The worker's own node flags (--liftoff-only, ..., or tsx's loader) apply to the child too.
    const child = fork(this.runner, [], { execArgv: process.execArgv, stdio: "inherit" });
    child.on("message", (reply: JobReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.result);
      else p.reject(new Error(reply.error));
    });
    child.once("exit", (code, signal) => {
      if (this.child === child) this.child = undefined;
      // Jobs it had not answered fail: their builds' logs say why (the runner wrote what it could).
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(new Error(`the worker's jobs process exited (${signal ?? `code ${code}`}) during the job; see the worker's log`));
      }
    });
    return child;
  }

  /** Stops the child once its jobs are answered (an idle one at once); resolves when it has exited. */
  async stop(): Promise<void> {
    clearTimeout(this.idleTimer);
    const child = this.child;
    if (!child || this.pending.size > 0) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.disconnect(); // the runner closes its connections and exits
    await exited;
  }
}
