/**
 * The logging sidecar (`paas sidecars:attach logging -a APP`): reads the files the app writes
 * under its log directory (/var/log/app, a volume of each replica's own from its start,
 * volumes/mounts.ts) and prints each line as `<path>\t<line>`; the host's collector
 * (runtime/src/logship.ts) ships them to the app's log as the replica's lines on the stream
 * `file:<path>`, beside its stdout and stderr. Attached, it mounts that volume read-only:
 * the app's container is not restarted.
 *
 * busybox only (a few hundred kB per replica): one `tail -F` per file, which follows a file
 * across rotation by name; the directory is looked at again every 2 s for new files. Files
 * there when it starts are read from their end (what was written before is not shipped
 * twice after a restart of the sidecar), files that appear later from their first line.
 */
import { LOG_PATH, logVolumeName } from "../volumes/mounts.ts";
import type { SidecarKind } from "./kinds.ts";

const SCRIPT = `
cd ${LOG_PATH} || exit 1
seen=" "
from=0
while :; do
  for f in $(find . -type f | sort); do
    case "$seen" in *" $f "*) continue ;; esac
    seen="$seen$f "
    p="${LOG_PATH}/\${f#./}"
    if [ "$from" = 0 ]; then n=0; else n=+1; fi
    (tail -n "$n" -F "$f" 2>/dev/null | while IFS= read -r l; do printf '%s\\t%s\\n' "$p" "$l"; done) &
  done
  from=1
  sleep 2
done
`.trim();

export const loggingKind: SidecarKind = {
  description: `ships the files the app writes under ${LOG_PATH} to its log (paas logs shows them as app[web.1 ${LOG_PATH}/FILE])`,
  resolve(req) {
    return {
      image: "stack/busybox",
      cmd: ["sh", "-c", SCRIPT],
      env: {},
      volumes: [],
      net: "none",
      memoryMb: req.memoryMb ?? 16,
    };
  },
  perReplica: (_spec, replica) => ({
    volumes: [{ name: logVolumeName(replica.app.name, replica.processType, replica.number), path: LOG_PATH, readOnly: true }],
  }),
};
