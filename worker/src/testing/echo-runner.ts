// A stand-in for job-runner.ts in job-process.test.ts: answers a build job with the build id as
// its status after 50 ms, or exits with code 3 when the build id is "crash". It exits when
// disconnected, as the real runner does.
import type { JobReply, JobRequest } from "../job-process.ts";

process.on("message", (job: JobRequest) => {
  if (job.kind !== "build") return;
  const { buildId } = job.data;
  if (buildId === "crash") process.exit(3);
  setTimeout(() => process.send!({ id: job.id, ok: true, result: { status: buildId } } as unknown as JobReply), 50);
});
process.on("disconnect", () => process.exit(0));
