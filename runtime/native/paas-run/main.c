/*
 * paas-run: the privileged exec step of our runtime and the per-container monitor.
 *
 * Usage (from the TypeScript side; one process spawn per container start):
 *   paas-run run [options] -- CMD ARGS...
 *     --dir DIR            container state dir: writes DIR/pid, DIR/monitor.pid,
 *                          DIR/log.ndjson (appended; rotated to log.ndjson.1 past
 *                          $PAAS_LOG_MAX_BYTES, 10 MiB by default), DIR/status.json (at exit)
 *     --rootfs DIR         where the root is (mount point); with --lower, the overlay
 *                          is mounted there inside the container's own mount namespace
 *     --lower A:B:C --upper U --work W   overlay parts (lower: top layer first)
 *     --netns PATH         join this network namespace (else a new, empty one)
 *     --ip A.B.C.D/N --gw A.B.C.D   configure eth0 + default route inside the netns
 *     --cgroup DIR         join this cgroup (repeatable; the container's process joins it
 *                          before anything else: join_cgroups)
 *     --oom-file FILE      file with an "oom_kill N" line (v1 memory.oom_control, v2 memory.events)
 *     --bind SRC:DST       bind-mount a host file or directory read-only into the container
 *                          (resolv.conf..., a build's package indexes); DST is made when missing
 *     --bind-rw SRC:DST    the same, writable
 *     --hostname H --cwd D --uid N --gid N --env K=V (repeatable)
 *   Prints "ok PID\n" or "error MESSAGE\n" on fd 3 when the container has exec'd
 *   (or failed to), then the monitor lives on, detached, until the container exits.
 *
 *   paas-run unwhiteout DIR   turn OCI whiteout files (.wh.X, .wh..wh..opq) of an
 *                             unpacked layer into overlayfs whiteouts
 *   paas-run opaque DIR       print (relative) dirs that carry the overlay opaque xattr
 *
 * In the container, last before exec: capabilities cut to Docker's set, no_new_privs, and a
 * seccomp filter (install_seccomp) refusing mount, unshare/setns, namespace clones,
 * module loading, kexec, ptrace, keyctl, bpf, io_uring and the like with EPERM.
 *
 * With --userns BASE the container runs in a user namespace mapping its ids 0..65535 to
 * host BASE..: the monitor opens the team's kept namespace (kept_userns), the container part
 * does all its host-root set-up first (overlay over idmapped layers, /proc, /dev, binds,
 * pivot_root, hostname), then joins the namespace and cuts as above. Its other namespaces
 * stay owned by the host's user namespace, so root inside has no power over them (no mount, no sysctl);
 * low ports and ping are opened per network namespace instead.
 *
 * Other modes: `exec` (a process into a running container, the same cuts), `idmap` (host
 * side idmapped binds, for containers with volumes), `userns-probe` (can this kernel do it).
 *
 * Why C: the container part must run between clone() and execve() with no runtime
 * of its own, and the monitor must outlive the agent at the cost of a few hundred KB.
 */
#include "paas-run.h"

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "serve")) return serve();
  if (argc >= 2 && !strcmp(argv[1], "run")) return cmd_run(argc, argv);
  if (argc == 3 && !strcmp(argv[1], "unwhiteout")) return walk(argv[2], "", 0);
  if (argc == 3 && !strcmp(argv[1], "opaque")) return walk(argv[2], "", 1);
  if (argc >= 2 && !strcmp(argv[1], "exec")) return cmd_exec(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "idmap")) return cmd_idmap(argc, argv);
  if (argc == 3 && !strcmp(argv[1], "userns-probe")) return cmd_userns_probe(argv[2]);
  fprintf(stderr, "usage: paas-run run [options] -- CMD... | exec --pid PID [options] -- CMD... | idmap BASE SRC DST... |\n"
                  "       userns-probe DIR | unwhiteout DIR | opaque DIR\n");
  return 2;
}
