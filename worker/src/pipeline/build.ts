/**
 * build: the detected builder (builders/: node, python, static, dockerfile)
 * turns the tree into an image, in containers of our runtime; the image is
 * recorded on the build.
 */
import { db } from "@paas/db";
import { BUILD_MEMORY_BYTES, type BuildContext, type BuildOutput } from "../builders/context.ts";
import type { Detection } from "../builders/detect.ts";
import { buildNode } from "../builders/node.ts";
import { buildStatic } from "../builders/static.ts";
import { buildPython } from "../builders/python.ts";
import { buildDockerfile } from "../builders/dockerfile/build.ts";
import type { Step } from "./runner.ts";

function builderFor(d: Detection): (ctx: BuildContext, d: Detection) => Promise<BuildOutput> {
  switch (d.builder) {
    case "node":
      return buildNode;
    case "static":
      return buildStatic;
    case "python":
      return buildPython;
    case "dockerfile":
      return buildDockerfile;
  }
}

export const build: Step<{ ctx: BuildContext; detection: Detection }, BuildOutput> = {
  name: "build",
  async run({ ctx, detection }) {
    ctx.log.step(`Building in isolated containers (${BUILD_MEMORY_BYTES / 2 ** 20} MB)`);
    const out = await builderFor(detection)(ctx, detection);
    ctx.log.step("Saving the image");
    ctx.log.info(`Image ${out.image.id.slice(0, 19)} (${(out.image.sizeBytes / 2 ** 20).toFixed(1)} MB, ${out.image.layers.length} layers)`);
    await db.build.update({ where: { id: ctx.buildId }, data: { imageRef: out.imageRef } });
    return out;
  },
};
