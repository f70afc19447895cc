/**
 * CALLER_SIDE commands' streams (cli-program.ts) over the agent's HTTP API: the caller's
 * files, stdin and terminal stay in the caller's process and the agent does the runtime's
 * part, as docker's CLI does with dockerd. Every tar is streamed through, never held whole.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { AgentClient } from "@paas/shared/agent-api";
import type { CallerStreams } from "./cli-program.ts";
import { RuntimeError } from "./util.ts";

/** A Node stream as a fetch body (undici takes async iterables, with duplex "half"). */
const asBody = (s: Readable) => s as unknown as BodyInit;

async function pipeTo(body: Promise<ReadableStream<Uint8Array>>, out: Writable) {
  await pipeline(Readable.fromWeb((await body) as import("node:stream/web").ReadableStream<Uint8Array>), out);
}

/** Runs `tar` with `args`, its stdin or stdout given to `use`; resolves when both are done. */
async function withTar(args: string[], stdio: "in" | "out", use: (s: Readable | Writable) => Promise<unknown>) {
  const t = spawn("tar", args, { stdio: stdio === "in" ? ["pipe", "inherit", "pipe"] : ["ignore", "pipe", "pipe"] });
  let err = "";
  t.stderr!.on("data", (c) => (err += c));
  const exit = new Promise<number>((r) => t.on("close", (c) => r(c ?? 1)));
  await use(stdio === "in" ? t.stdin! : t.stdout!);
  const code = await exit;
  if (code !== 0) throw new RuntimeError(`tar ${args.join(" ")} failed: ${err.trim()}`, 500);
}

export function agentStreams(client: AgentClient): CallerStreams {
  return {
    get: (ref) => client.container(ref),
    exec: (ref, req) => client.exec(ref, req),
    getArchive: (ref, src, out) => pipeTo(client.containerArchive(ref, src), out),
    copyIn: async (ref, dest, tar) => void (await client.putArchive(ref, dest, asBody(tar))),
    export: (ref, out) => pipeTo(client.exportContainer(ref), out),
    images: {
      resolve: (ref) => client.image(ref),
      importTar: (tar, name, config) => client.importImage(asBody(tar), name, config),
      save: (refs, out, opts) => pipeTo(client.saveImages(refs, opts), out),
      // the save tar is an OCI image layout (and docker's manifest.json): unpacked, the layout dir
      exportLayout: async (refs, dir, opts) => {
        fs.mkdirSync(dir, { recursive: true });
        await withTar(["-C", dir, "-xf", "-"], "in", (stdin) => pipeTo(client.saveImages(refs, opts), stdin as Writable));
      },
      load: async (source, opts) => {
        if (typeof source !== "string") return client.loadImages(asBody(source), opts);
        if (!fs.existsSync(source)) throw new RuntimeError(`no ${source} on this host`, 404);
        if (!fs.statSync(source).isDirectory()) return client.loadImages(asBody(fs.createReadStream(source)), opts);
        // an OCI layout dir: sent as the tar the agent reads
        let images: Awaited<ReturnType<AgentClient["loadImages"]>> = [];
        await withTar(["-C", source, "-cf", "-", "."], "out", async (stdout) => (images = await client.loadImages(asBody(stdout as Readable), opts)));
        return images;
      },
    },
  };
}
