/**
 * What runs inside the build container for each builder. The script runs in
 * /app (the source), with the stack's tools; its output is the build log.
 */
import type { Detection } from "./detect.ts";

export interface Buildpack {
  /** The stack image the build runs in and the app then runs on. */
  stack: string;
  /** Shell script run in /app inside the build container. */
  script: string;
  env: Record<string, string>;
}

export function buildpackFor(d: Detection): Buildpack {
  switch (d.builder) {
    case "node":
      return {
        stack: "stack/node",
        env: { npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" },
        script: [
          "set -e",
          "cd /app",
          'echo "-----> Installing dependencies (node $(node --version), npm $(npm --version))"',
          "if [ -f package-lock.json ]; then npm ci --no-progress; else npm install --no-progress; fi",
          'if node -e "process.exit(require(\'./package.json\').scripts?.build ? 0 : 1)"; then',
          '  echo "-----> Running build script"',
          "  npm run build",
          "fi",
          // The npm cache is build-time only; keep it out of the image.
          "rm -rf /root/.npm /tmp/* 2>/dev/null || true",
        ].join("\n"),
      };
  }
}
