/**
 * Layout of the runtime's state under `${dataDir}/runtime/`:
 *   layers/<hex>/            an unpacked layer (read-only lower dir for overlayfs)
 *   layers/<hex>.json        { size } of the layer tar
 *   images/<hex>.json        an image: layers + config
 *   names.json               "repo:tag" -> image id
 *   containers/<id>/         config.json, upper/, work/, rootfs/, log.ndjson, pid,
 *                            monitor.pid, status.json, resolv.conf, hosts, hostname
 *   net/<bridge>.json        IPAM: address -> container id (net/<bridge>.lock guards it)
 *   tmp/                     staging for imports and commits
 *   trash/                   removed containers' dirs, deleted in the background
 *   sock/cli.sock            the agent's socket for the operator CLI (agent/cli-socket.ts;
 *                            runtime/bin/paas-runtime knows this path too)
 *   sock/agent.json          { pid, url, token? } of the agent that listens there (agent-lookup.ts)
 */
import path from "node:path";

export class Layout {
  constructor(readonly dataDir: string) {}
  get root() {
    return path.join(this.dataDir, "runtime");
  }
  get layers() {
    return path.join(this.root, "layers");
  }
  get images() {
    return path.join(this.root, "images");
  }
  get names() {
    return path.join(this.root, "names.json");
  }
  get containers() {
    return path.join(this.root, "containers");
  }
  get net() {
    return path.join(this.root, "net");
  }
  get tmp() {
    return path.join(this.root, "tmp");
  }
  get trash() {
    return path.join(this.root, "trash");
  }
  get cliSocket() {
    return path.join(this.root, "sock", "cli.sock");
  }
  get agentInfo() {
    return path.join(this.root, "sock", "agent.json");
  }
  get lock() {
    return path.join(this.root, "store.lock");
  }
  layer(digest: string) {
    return path.join(this.layers, hex(digest));
  }
  container(id: string) {
    return path.join(this.containers, id);
  }
}

export function hex(digest: string): string {
  return digest.startsWith("sha256:") ? digest.slice(7) : digest;
}
