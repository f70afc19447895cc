/**
 * Runs the push's named steps (build.ts lists them) and records how long each
 * took, for the summary line at the end of the log.
 */
export type StepName = "receive" | "detect" | "build" | "release" | "deploy" | "route" | "retire";

/** One step of the pipeline: prints its own `-----> ` line, takes what it needs, returns what it made. */
export interface Step<In, Out> {
  name: StepName;
  run(input: In): Promise<Out>;
}

export class StepRunner {
  private readonly started = Date.now();
  /** Seconds spent in each step, in the order they ran. */
  readonly timings: [StepName, number][] = [];

  async run<In, Out>(step: Step<In, Out>, input: In): Promise<Out> {
    const t0 = Date.now();
    try {
      return await step.run(input);
    } finally {
      this.timings.push([step.name, (Date.now() - t0) / 1000]);
    }
  }

  /** One line: the total and each step that took 0.05 s or more ("Done in 9.1s (build 7.9s, deploy 1.1s)"). */
  summary(): string {
    const total = (Date.now() - this.started) / 1000;
    const steps = this.timings.filter(([, s]) => s >= 0.05).map(([name, s]) => `${name} ${s.toFixed(1)}s`);
    return `Done in ${total.toFixed(1)}s${steps.length ? ` (${steps.join(", ")})` : ""}`;
  }
}
