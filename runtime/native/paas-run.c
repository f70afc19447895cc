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
 *     --bind SRC:DST       bind-mount a host file read-only into the container (resolv.conf...)
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
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/nsfs.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#define MAXV 256

static const char *dir, *rootfs, *lower, *upper, *work, *netns, *ipcidr, *gw, *hostname_, *cwd = "/", *oomfile;
static const char *cgroups[16];
static int ncgroups;
static const char *binds[16];
static int nbinds;
static char *envv[MAXV];
static int nenv;
static uid_t uid;
static gid_t gid;
static char **cmd;
/* --userns BASE: container uids/gids 0..65535 are host BASE..BASE+65535 (-1: no user namespace) */
static long userns_base = -1;
static int userns_fd = -1;

static int errfd = -1; /* child -> monitor: error message before exec (CLOEXEC) */
static int logfd = -1; /* the monitor's log.ndjson */
/* Server mode: the agent's end of the server's replies and the request's id, for say(). */
static int reply_fd = -1;
static unsigned long reply_id;

static void die(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 64, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (n > (int)sizeof buf - 64) n = sizeof buf - 64;
  if (errno) n += snprintf(buf + n, 64, ": %s", strerror(errno));
  if (errfd >= 0) {
    if (write(errfd, buf, n) < 0) {}
  } else {
    buf[n++] = '\n';
    if (write(2, buf, n) < 0) {}
  }
  _exit(127);
}

/* Write a small file atomically (tmp + rename) so readers never see half of it. No fsync
 * (it cost ~1-3 ms per file on every start and exit): these files (pid, monitor.pid,
 * status.json) describe processes that a crash or reboot ends anyway, and the rename alone
 * keeps readers from a half-written file; Node's writeJson does not fsync either. */
static void write_atomic(const char *path, const char *data) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (write(fd, data, strlen(data)) < 0) {}
  close(fd);
  rename(tmp, path);
}

/* How the start went: "ok PID" or "error MESSAGE". In server mode straight to the agent, as
 * a reply line of the server's protocol (one write: atomic on the pipe; the server is
 * waiting for us and writes nothing meanwhile), which spares a wake-up of the server on the
 * way (~1 ms here); the server then reads "r" from SYNCFD. Else the line goes on SYNCFD. */
static void say(int syncfd, const char *status, const char *fmt, ...) {
  char msg[1200], line[1300];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (n >= (int)sizeof msg) n = sizeof msg - 1;
  if (reply_fd >= 0) {
    int k = snprintf(line, sizeof line, "%lu %s %d\n%.*s", reply_id, status, n, n, msg);
    int sent = write(reply_fd, line, k) == k;
    close(reply_fd);
    reply_fd = -1;
    if (sent) {
      if (write(syncfd, "r", 1) < 0) {}
      return;
    }
  }
  dprintf(syncfd, "%s %.*s\n", status, n, msg);
}

/* ---------- user namespaces ----------
 * A user namespace mapping container ids 0..65535 to host BASE..BASE+65535, made by a
 * throwaway child cloned straight into it (no race between its unshare and our map
 * writes); the namespace lives on through the returned fd. */
#define USERNS_SIZE 65536
static int make_userns(long base) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  pid_t c = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
  if (c < 0) { close(p[0]); close(p[1]); return -1; }
  if (c == 0) {
    char x;
    close(p[1]);
    while (read(p[0], &x, 1) < 0 && errno == EINTR) {}
    _exit(0);
  }
  close(p[0]);
  char path[64], map[64];
  int fd = -1, ok = 1, saved = 0;
  int n = snprintf(map, sizeof map, "0 %ld %d\n", base, USERNS_SIZE);
  const char *files[] = {"uid_map", "gid_map"};
  for (int i = 0; i < 2 && ok; i++) {
    snprintf(path, sizeof path, "/proc/%d/%s", c, files[i]);
    int f = open(path, O_WRONLY | O_CLOEXEC);
    if (f < 0 || write(f, map, n) != n) { ok = 0; saved = errno; }
    if (f >= 0) close(f);
  }
  if (ok) {
    snprintf(path, sizeof path, "/proc/%d/ns/user", c);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    saved = errno;
  }
  close(p[1]);
  while (waitpid(c, NULL, 0) < 0 && errno == EINTR) {}
  errno = saved;
  return fd;
}

/* A team's user namespace, made once and kept: bind-mounted on USERNS_KEEP_DIR/BASE (as `ip
 * netns` keeps network namespaces), so a start opens it instead of making one (a clone, two
 * map writes and a wait: ~1.7 ms). The containers of a team share it; they share its host
 * ids anyway, and none of their other namespaces is owned by it. Keyed by BASE alone: the
 * namespace is its mapping, the same for every runtime on the host that hands out BASE.
 * Made under a lock (two first starts of a team make one); a mount survives the agent and
 * is gone at reboot (on a /run that is not a tmpfs, the file left is no namespace and is
 * mounted over). Ranges are never released (userns.ts), so neither are these: one idle
 * namespace per team. Falls back to a throwaway namespace when one cannot be kept. */
#define USERNS_KEEP_DIR "/run/paas-userns"
static int is_userns(int fd) { return ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWUSER; }

static int kept_userns(long base) {
  char path[64], lock[80];
  snprintf(path, sizeof path, USERNS_KEEP_DIR "/%ld", base);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0 && is_userns(fd)) return fd;
  if (fd >= 0) close(fd);
  if (mkdir(USERNS_KEEP_DIR, 0700) < 0 && errno != EEXIST) return make_userns(base);
  snprintf(lock, sizeof lock, "%s.lock", path);
  int lk = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lk < 0) return make_userns(base);
  while (flock(lk, LOCK_EX) < 0 && errno == EINTR) {}
  fd = open(path, O_RDONLY | O_CLOEXEC); /* made while we waited? */
  if (fd < 0 || !is_userns(fd)) {
    if (fd >= 0) close(fd);
    fd = make_userns(base);
    int f = fd >= 0 ? open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) : -1;
    if (f >= 0) {
      close(f);
      char src[64];
      snprintf(src, sizeof src, "/proc/self/fd/%d", fd);
      if (mount(src, path, NULL, MS_BIND, NULL) < 0) {} /* not kept: this start still has its own */
    }
  }
  int e = errno;
  close(lk); /* releases the lock */
  errno = e;
  return fd;
}

/* SRC mounted at DST with ids shifted through the user namespace: host 0 shows as BASE
 * (so as root inside). Layers and volumes stay stored with the ids the container sees. */
static int idmap_mount(int nsfd, const char *src, const char *dst) {
  int t = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (t < 0) return -1;
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (unsigned long long)nsfd};
  int rc = mount_setattr(t, "", AT_EMPTY_PATH, &attr, sizeof attr);
  if (rc == 0) rc = move_mount(t, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH);
  int e = errno;
  close(t);
  errno = e;
  return rc;
}

/* Writes VALUE into a sysctl of the current network namespace (through the host's /proc,
 * before ours is mounted). */
static void net_sysctl(const char *name, const char *value) {
  char p[256];
  snprintf(p, sizeof p, "/proc/sys/net/%s", name);
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, value, strlen(value)) < 0) die("set %s", p);
  close(fd);
}

/* ---------- container part (runs as pid 1 of the new pid namespace) ---------- */

static void ifup(int sock, const char *name) {
  struct ifreq ifr = {0};
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) die("get flags of %s", name);
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) die("bring %s up", name);
}

/* eth0 address + default route with ioctls: cheaper than spawning `ip` in the netns. */
static void setup_net(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket");
  ifup(s, "lo");
  if (ipcidr) {
    char addr[64];
    strncpy(addr, ipcidr, sizeof addr - 1);
    addr[sizeof addr - 1] = 0;
    char *slash = strchr(addr, '/');
    int prefix = 24;
    if (slash) { *slash = 0; prefix = atoi(slash + 1); }
    struct ifreq ifr = {0};
    strncpy(ifr.ifr_name, "eth0", IFNAMSIZ - 1);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    sin->sin_family = AF_INET;
    if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) { errno = 0; die("bad --ip %s", ipcidr); }
    if (ioctl(s, SIOCSIFADDR, &ifr) < 0) die("set address of eth0");
    sin->sin_addr.s_addr = prefix ? htonl(~0u << (32 - prefix)) : 0;
    if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0) die("set netmask of eth0");
    ifup(s, "eth0");
    if (gw) {
      struct rtentry rt = {0};
      struct sockaddr_in *d = (struct sockaddr_in *)&rt.rt_dst, *g = (struct sockaddr_in *)&rt.rt_gateway,
                         *m = (struct sockaddr_in *)&rt.rt_genmask;
      d->sin_family = g->sin_family = m->sin_family = AF_INET;
      if (inet_pton(AF_INET, gw, &g->sin_addr) != 1) { errno = 0; die("bad --gw %s", gw); }
      rt.rt_flags = RTF_UP | RTF_GATEWAY;
      rt.rt_dev = "eth0";
      if (ioctl(s, SIOCADDRT, &rt) < 0) die("add default route via %s", gw);
    }
  }
  close(s);
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
  if (mount(src, dst, type, flags, data) < 0) die("mount %s on %s", type ? type : src, dst);
}

/* Paths masked or made read-only in /proc, as containerd does by default. */
static const char *masked[] = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                               "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                               "/sys/firmware", NULL};
static const char *readonly[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL};

/* tmpfs options; in a user namespace the dir belongs to the container's root */
static const char *tmpfs_opts(char *buf, size_t n, const char *opts) {
  if (userns_base < 0) return opts;
  snprintf(buf, n, "%s,uid=%ld,gid=%ld", opts, userns_base, userns_base);
  return buf;
}

static void setup_dev(void) {
  char o[128];
  mnt("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, tmpfs_opts(o, sizeof o, "mode=755,size=65536k"));
  struct { const char *name; unsigned maj, min; } devs[] = {
      {"dev/null", 1, 3}, {"dev/zero", 1, 5}, {"dev/full", 1, 7},
      {"dev/random", 1, 8}, {"dev/urandom", 1, 9}, {"dev/tty", 5, 0}};
  for (unsigned i = 0; i < sizeof devs / sizeof devs[0]; i++) {
    if (mknod(devs[i].name, S_IFCHR | 0666, makedev(devs[i].maj, devs[i].min)) < 0) die("mknod %s", devs[i].name);
    chmod(devs[i].name, 0666); /* umask */
    if (userns_base >= 0 && chown(devs[i].name, userns_base, userns_base) < 0) die("chown %s", devs[i].name);
  }
  mkdir("dev/pts", 0755);
  mnt("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
  if (symlink("pts/ptmx", "dev/ptmx") < 0) die("symlink ptmx");
  mkdir("dev/shm", 01777);
  mnt("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, tmpfs_opts(o, sizeof o, "mode=1777,size=65536k"));
  mkdir("dev/mqueue", 0755);
  mount("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  if (symlink("/proc/self/fd", "dev/fd") < 0 || symlink("/proc/self/fd/0", "dev/stdin") < 0 ||
      symlink("/proc/self/fd/1", "dev/stdout") < 0 || symlink("/proc/self/fd/2", "dev/stderr") < 0)
    die("symlinks in /dev");
}

/* Docker's / containerd's default capability set, less CAP_MKNOD: Docker relies on the
 * devices cgroup to make a mknod'ed block device useless; we keep no such list, so a
 * container may not make device nodes at all (its /dev is made before the caps go). */
static const int keep_caps[] = {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_NET_RAW,
                                CAP_SETGID, CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE,
                                CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE};

static int keep_cap(int c) {
  for (unsigned i = 0; i < sizeof keep_caps / sizeof keep_caps[0]; i++)
    if (keep_caps[i] == c) return 1;
  return 0;
}

static void drop_caps(void) {
  int last = 40;
  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
  if (f) { if (fscanf(f, "%d", &last) != 1) last = 40; fclose(f); }
  for (int c = 0; c <= last; c++)
    if (!keep_cap(c) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) die("drop capability %d", c);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

static void set_caps_for_root(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {{0}};
  for (unsigned i = 0; i < sizeof keep_caps / sizeof keep_caps[0]; i++) {
    int c = keep_caps[i];
    d[c / 32].effective |= 1u << (c % 32);
    d[c / 32].permitted |= 1u << (c % 32);
    d[c / 32].inheritable |= 1u << (c % 32);
  }
  if (syscall(SYS_capset, &h, d) < 0) die("capset");
}


/* ---------- seccomp ----------
 * A hand-written BPF filter rather than libseccomp: no library to install or link, no
 * parsing at start, and the list is short enough to read. Unknown architectures are
 * killed (only x86_64 is ours), x32 syscalls (the 0x40000000 bit) are refused, and the
 * calls below fail with EPERM, as in Docker's default profile for a container without
 * CAP_SYS_ADMIN/SYS_PTRACE/SYS_MODULE/...: the kernel's own checks would refuse most of
 * them already (caps are cut), the filter also closes the ones a user namespace or a
 * kernel bug could open (unshare, bpf, userfaultfd, io_uring, keyctl...). */
#ifndef AUDIT_ARCH_X86_64
#error "paas-run's seccomp filter is written for x86_64"
#endif
static const int denied_syscalls[] = {
    SYS_mount, SYS_umount2, SYS_pivot_root, SYS_kexec_load, SYS_kexec_file_load, SYS_init_module,
    SYS_finit_module, SYS_delete_module, SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev, SYS_kcmp,
    SYS_keyctl, SYS_add_key, SYS_request_key, SYS_bpf, SYS_unshare, SYS_setns, SYS_open_by_handle_at,
    SYS_perf_event_open, SYS_userfaultfd, SYS_swapon, SYS_swapoff, SYS_reboot, SYS_settimeofday,
    SYS_clock_settime, SYS_clock_adjtime, SYS_acct, SYS_quotactl, 443 /* quotactl_fd */, SYS_lookup_dcookie,
    SYS_iopl, SYS_ioperm, SYS_syslog, SYS__sysctl, SYS_vhangup, SYS_uselib, SYS_nfsservctl, SYS_create_module,
    SYS_get_kernel_syms, SYS_query_module,
    /* the new mount API and io_uring (which bypasses syscall filtering for its ops) */
    428 /* open_tree */, 429 /* move_mount */, 430 /* fsopen */, 431 /* fsconfig */, 432 /* fsmount */,
    433 /* fspick */, 442 /* mount_setattr */, 438 /* pidfd_getfd */, 425 /* io_uring_setup */,
    426 /* io_uring_enter */, 427 /* io_uring_register */,
};
#define NS_CLONE_FLAGS (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP)

static void install_seccomp(void) {
  enum { N = sizeof denied_syscalls / sizeof denied_syscalls[0] };
  /* layout: 0 ld arch | 1 jeq x86_64 | 2 kill | 3 ld nr | 4 jge x32 | 5.. jeq denied (N) |
   * C: jeq clone3 | C+1 ret ENOSYS | C+2 jeq clone | C+3 ld args[0] | C+4 jset ns |
   * C+5 allow | C+6 eperm */
  enum { C = 5 + N, EPERM_AT = C + 6, ALLOW_AT = C + 5 };
  struct sock_filter f[EPERM_AT + 1];
  const unsigned eperm = SECCOMP_RET_ERRNO | EPERM;
#define TO(target, at) ((unsigned char)((target) - (at) - 1))
  f[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  f[1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  f[2] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  f[3] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  /* x32 ABI: same arch value, syscall numbers with bit 30 set */
  f[4] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, TO(EPERM_AT, 4), 0);
  for (unsigned i = 0; i < N; i++)
    f[5 + i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)denied_syscalls[i], TO(EPERM_AT, 5 + i), 0);
  /* clone3 passes its flags in memory, out of the filter's sight: ENOSYS makes libc fall
   * back to clone, whose flags we can check (what Docker does). */
  f[C] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1);
  f[C + 1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  f[C + 2] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, TO(ALLOW_AT, C + 2));
  /* flags = args[0]; the namespace bits are all in its low 32 bits (little endian) */
  f[C + 3] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
  f[C + 4] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NS_CLONE_FLAGS, TO(EPERM_AT, C + 4), 0);
  f[ALLOW_AT] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  f[EPERM_AT] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, eperm);
#undef TO
  struct sock_fprog prog = {.len = EPERM_AT + 1, .filter = f};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) die("install the seccomp filter");
}

/* The cuts every process of a container gets (its init and exec'd ones), then exec:
 * capabilities, the user, no_new_privs, the working dir (entered as the user), env, seccomp. */
static void become_user_and_exec(void) {
  drop_caps();
  if (setgroups(0, NULL) < 0) die("setgroups");
  if (setresgid(gid, gid, gid) < 0) die("setgid %d", (int)gid);
  if (setresuid(uid, uid, uid) < 0) die("setuid %d", (int)uid);
  if (uid == 0) set_caps_for_root();
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs");

  if (chdir(cwd) < 0) die("chdir %s (working directory)", cwd);
  envv[nenv] = NULL;
  environ = envv;
  /* signal dispositions set by the monitor must not leak into the app */
  signal(SIGPIPE, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  install_seccomp(); /* last: after it, mount/unshare/... are refused, to us too */
  execvp(cmd[0], cmd);
  die("exec %s", cmd[0]);
}

static void container_main(void) {
  if (netns) {
    int fd = open(netns, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open network namespace %s", netns);
    if (setns(fd, CLONE_NEWNET) < 0) die("join network namespace %s", netns);
    close(fd);
  }
  setup_net();
  if (userns_fd >= 0) {
    /* Root in the user namespace has no privilege over the network namespace (the host's
     * user namespace owns it): low ports and ping are opened to all, per namespace. */
    net_sysctl("ipv4/ip_unprivileged_port_start", "0");
    net_sysctl("ipv4/ping_group_range", "0 2147483647");
  }

  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("make mounts private");
  if (lower) {
    if (userns_fd >= 0) {
      /* Each layer's idmapped clone mounted over the layer itself, in our mount namespace
       * only (the host's view is unchanged): the overlay takes its own clones of them, and a
       * start makes no staging dirs. The upper dir is owned by BASE already (set-up chowns it). */
      char copy[8192];
      const char *done[512];
      int ndone = 0;
      if (strlen(lower) >= sizeof copy) { errno = 0; die("too many layers"); }
      strcpy(copy, lower);
      for (char *tok = strtok(copy, ":"); tok; tok = strtok(NULL, ":")) {
        int seen = 0;
        for (int i = 0; i < ndone; i++) seen |= !strcmp(done[i], tok);
        if (seen) continue; /* a layer twice in the stack is idmapped once */
        if (idmap_mount(userns_fd, tok, tok) < 0) die("idmapped mount of layer %s", tok);
        if (ndone < 512) done[ndone++] = tok;
      }
    }
    char opts[8192];
    int n = snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
    if (n >= (int)sizeof opts) { errno = 0; die("overlay options too long (too many layers)"); }
    /* nodev: a device node shipped in an image layer opens nothing (/dev is its own tmpfs) */
    mnt("overlay", rootfs, "overlay", MS_NODEV, opts);
  } else {
    mnt(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL); /* pivot_root needs a mount point */
  }
  if (chdir(rootfs) < 0) die("chdir %s", rootfs);

  mkdir("proc", 0555);
  mnt("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mkdir("sys", 0555);
  if (mount("sysfs", "sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) < 0) {
    /* not fatal: some hosts refuse sysfs in a shared netns */
  }
  mkdir("dev", 0755);
  setup_dev();

  for (int i = 0; i < nbinds; i++) {
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s", binds[i]);
    char *colon = strchr(src, ':');
    if (!colon) { errno = 0; die("bad --bind %s", binds[i]); }
    *colon = 0;
    snprintf(dst, sizeof dst, ".%s", colon + 1);
    struct stat st;
    if (stat(dst, &st) < 0) {
      for (char *q = dst + 2; *q; q++) /* parents, for images without /etc */
        if (*q == '/') { *q = 0; mkdir(dst, 0755); *q = '/'; }
      int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
      if (fd >= 0) close(fd);
    }
    mnt(src, dst, NULL, MS_BIND, NULL);
    mnt(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
  }

  for (int i = 0; masked[i]; i++) {
    char p[256];
    snprintf(p, sizeof p, ".%s", masked[i]);
    struct stat st;
    if (stat(p, &st) < 0) continue;
    if (S_ISDIR(st.st_mode)) mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0");
    else mount("dev/null", p, NULL, MS_BIND, NULL);
  }
  for (int i = 0; readonly[i]; i++) {
    char p[256];
    snprintf(p, sizeof p, ".%s", readonly[i]);
    if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) == 0)
      mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL);
  }

  /* pivot_root(".", ".") stacks the old root under the new one; detach it. */
  if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root into %s", rootfs);
  if (umount2(".", MNT_DETACH) < 0) die("detach old root");
  if (chdir("/") < 0) die("chdir /");

  if (hostname_ && sethostname(hostname_, strlen(hostname_)) < 0) die("sethostname");

  struct rlimit rl = {1048576, 1048576};
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0) { rl.rlim_cur = rl.rlim_max = 65536; setrlimit(RLIMIT_NOFILE, &rl); }

  /* Last of the host-root steps: from here on, root is root only in the user namespace
   * (uid BASE on the host), with no power over the mounts, cgroups or network set up above. */
  if (userns_fd >= 0 && setns(userns_fd, CLONE_NEWUSER) < 0) die("join the user namespace");
  become_user_and_exec();
}

/* The container's process until its exec, cloned with CLONE_VM: it runs in the monitor's
 * memory on a stack of its own, as a vfork child does, because copying the address space
 * (fork) costs ~1 ms a start where page tables are expensive (VMs). They never work at once:
 * until the go byte this side only closes a pipe end and waits in read() while the monitor
 * writes the pid file; after it, the monitor waits in read() on the error pipe until our
 * exec or _exit. What this side writes meanwhile (errno, errfd, strtok's state, the option
 * globals) the monitor does not use again after the clone, except errno, which it reads
 * only after its own calls. */
struct child_fds { int go_r, go_w, out_w, err_w, errpipe_w, syncfd; };

/* The container's process joins its cgroups itself: "0" written to v1's `tasks` moves the
 * calling thread without the global threadgroup lock (and its RCU sync, ~0.15 ms a
 * hierarchy here) that a pid written by another process takes; the process has one thread
 * and is not yet running anything of the container's. v2 has no `tasks`: cgroup.procs. */
static void join_cgroups(void) {
  for (int i = 0; i < ncgroups; i++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/tasks", cgroups[i]);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      snprintf(p, sizeof p, "%s/cgroup.procs", cgroups[i]);
      fd = open(p, O_WRONLY | O_CLOEXEC);
    }
    if (fd < 0 || write(fd, "0", 1) != 1) die("join cgroup %s", cgroups[i]);
    close(fd);
  }
}

static int container_start(void *arg) {
  struct child_fds *f = arg;
  close(f->go_w);
  char c;
  /* Wait until the monitor has written the pid file; EOF: it failed. */
  if (read(f->go_r, &c, 1) != 1) _exit(127);
  close(f->go_r);
  close(f->syncfd);
  close(logfd);
  int nul = open("/dev/null", O_RDONLY);
  dup2(nul, 0);
  if (nul > 0) close(nul);
  dup2(f->out_w, 1);
  dup2(f->err_w, 2);
  errfd = f->errpipe_w;
  join_cgroups(); /* first: all that follows is counted and limited */
  container_main();
  _exit(127); /* not reached: container_main execs or dies */
}

/* ---------- monitor part (stays in the host's namespaces) ---------- */

static void iso_now(char *buf, size_t n) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + k, n - k, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Rotation by size: past log_max bytes, log.ndjson becomes log.ndjson.1 (the one older
 * file kept) and a new log.ndjson starts. PAAS_LOG_MAX_BYTES overrides the 10 MiB. */
static long long log_size, log_max = 10LL << 20;

static void log_rotate(void) {
  char cur[4096], old[4096];
  snprintf(cur, sizeof cur, "%s/log.ndjson", dir);
  snprintf(old, sizeof old, "%s/log.ndjson.1", dir);
  if (rename(cur, old) < 0) return;
  int fd = open(cur, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return; /* keep writing to the old file rather than lose lines */
  dup2(fd, logfd);
  close(fd);
  log_size = 0;
}

static void log_line(const char *stream, const char *s, size_t len) {
  static char out[65536 * 6 + 256];
  char t[40];
  iso_now(t, sizeof t);
  size_t o = (size_t)snprintf(out, 256, "{\"t\":\"%s\",\"stream\":\"%s\",\"line\":\"", t, stream);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') { out[o++] = '\\'; out[o++] = c; }
    else if (c == '\n') { out[o++] = '\\'; out[o++] = 'n'; }
    else if (c == '\r') { out[o++] = '\\'; out[o++] = 'r'; }
    else if (c == '\t') { out[o++] = '\\'; out[o++] = 't'; }
    else if (c < 0x20 || c == 0x7f) o += sprintf(out + o, "\\u%04x", c);
    else out[o++] = c; /* UTF-8 passes through; invalid bytes are the reader's problem */
  }
  memcpy(out + o, "\"}\n", 3);
  o += 3;
  if (log_size > 0 && log_size + (long long)o > log_max) log_rotate();
  if (write(logfd, out, o) > 0) log_size += (long long)o;
}

struct stream {
  int fd;
  const char *name;
  char buf[65536];
  size_t len;
};

static void pump(struct stream *s) {
  ssize_t n = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
  if (n <= 0) {
    if (n < 0 && errno == EINTR) return;
    if (s->len) log_line(s->name, s->buf, s->len);
    s->len = 0;
    close(s->fd);
    s->fd = -1;
    return;
  }
  s->len += (size_t)n;
  size_t start = 0;
  for (size_t i = 0; i < s->len; i++) {
    if (s->buf[i] == '\n') {
      log_line(s->name, s->buf + start, i - start);
      start = i + 1;
    }
  }
  if (start == 0 && s->len == sizeof s->buf) { /* a very long line: cut it */
    log_line(s->name, s->buf, s->len);
    s->len = 0;
    return;
  }
  memmove(s->buf, s->buf + start, s->len - start);
  s->len -= start;
}

static long read_oom_kill(void) {
  if (!oomfile) return 0;
  FILE *f = fopen(oomfile, "re");
  if (!f) return 0;
  char key[64];
  long v, r = 0;
  while (fscanf(f, "%63s %ld", key, &v) == 2)
    if (!strcmp(key, "oom_kill")) r = v;
  fclose(f);
  return r;
}

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static int monitor(int syncfd) {
  char p[4096];
  int outp[2], errp[2], gop[2], errpipe[2];
  if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(gop, O_CLOEXEC) < 0 ||
      pipe2(errpipe, O_CLOEXEC) < 0) {
    say(syncfd, "error", "pipe: %s", strerror(errno));
    return 1;
  }
  path_in(p, sizeof p, "log.ndjson");
  logfd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (logfd < 0) { say(syncfd, "error", "open %s: %s", p, strerror(errno)); return 1; }
  struct stat lst;
  if (fstat(logfd, &lst) == 0) log_size = lst.st_size;
  const char *lm = getenv("PAAS_LOG_MAX_BYTES");
  if (lm && atoll(lm) > 0) log_max = atoll(lm);
  long oom_before = read_oom_kill();

  if (userns_base >= 0 && (userns_fd = kept_userns(userns_base)) < 0) {
    say(syncfd, "error", "make the user namespace: %s", strerror(errno));
    return 1;
  }
  int flags = CLONE_VM | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
  if (!netns) flags |= CLONE_NEWNET;
  /* container_main's buffers take ~40 KB; only the pages touched become memory */
  const size_t stack_size = 1 << 20;
  void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) { say(syncfd, "error", "mmap: %s", strerror(errno)); return 1; }
  struct child_fds cf = {gop[0], gop[1], outp[1], errp[1], errpipe[1], syncfd};
  pid_t pid = clone(container_start, (char *)stack + stack_size, flags, &cf);
  if (pid < 0) { say(syncfd, "error", "clone: %s", strerror(errno)); return 1; }
  close(outp[1]);
  close(errp[1]);
  close(gop[0]);
  close(errpipe[1]);
  if (userns_fd >= 0) close(userns_fd); /* the container holds the namespace now */

  char err[1100] = "";
  path_in(p, sizeof p, "pid");
  char pidline[32];
  snprintf(pidline, sizeof pidline, "%d\n", pid);
  write_atomic(p, pidline);
  if (write(gop[1], "g", 1) != 1) {}
  close(gop[1]);

  /* The error pipe closes on exec (CLOEXEC) with nothing written when all went well. */
  ssize_t n, tot = 0;
  while ((n = read(errpipe[0], err + tot, sizeof err - 1 - tot)) > 0 || (n < 0 && errno == EINTR)) if (n > 0) tot += n;
  err[tot > 0 ? tot : 0] = 0;
  close(errpipe[0]);
  /* EOF: the container has exec'd (its own memory from then on) or died */
  munmap(stack, stack_size);
  if (tot > 0) {
    say(syncfd, "error", "%s", err);
    log_line("stderr", err, strlen(err));
  } else {
    say(syncfd, "ok", "%d", pid);
  }
  close(syncfd);

  struct stream so = {.fd = outp[0], .name = "stdout"}, se = {.fd = errp[0], .name = "stderr"};
  static struct stream *ss[2];
  ss[0] = &so;
  ss[1] = &se;
  /* When pid 1 of the namespace dies, the kernel kills the rest, so both pipes reach EOF. */
  while (so.fd >= 0 || se.fd >= 0) {
    struct pollfd pf[2];
    int k = 0;
    for (int i = 0; i < 2; i++)
      if (ss[i]->fd >= 0) pf[k++] = (struct pollfd){.fd = ss[i]->fd, .events = POLLIN};
    if (poll(pf, k, -1) < 0) { if (errno == EINTR) continue; break; }
    for (int i = 0; i < k; i++)
      if (pf[i].revents)
        for (int j = 0; j < 2; j++)
          if (ss[j]->fd == pf[i].fd) pump(ss[j]);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  long oom_after = read_oom_kill();
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  char t[40], js[256];
  iso_now(t, sizeof t);
  snprintf(js, sizeof js, "{\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s,\"finishedAt\":\"%s\"}\n", code, sig,
           oom_after > oom_before ? "true" : "false", t);
  path_in(p, sizeof p, "status.json");
  write_atomic(p, js);
  return 0;
}

static int cmd_run_fd(int argc, char **argv, int syncfd, int forked);

static int cmd_run(int argc, char **argv) {
  int syncfd = 3;
  struct stat st;
  if (fstat(syncfd, &st) < 0) syncfd = open("/dev/null", O_WRONLY); /* run by hand: no sync pipe */
  return cmd_run_fd(argc, argv, syncfd, 0);
}

/* Options of `run` and `exec` into the globals; returns the index of the command, or -1. */
static pid_t exec_target;
static int parse_opts(int argc, char **argv, int exec_mode) {
  int i;
  for (i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) return i + 1 < argc ? i + 1 : -1;
    if (i + 1 >= argc) { fprintf(stderr, "paas-run: %s needs a value\n", a); return -1; }
    const char *v = argv[++i];
    /* both */
    if (!strcmp(a, "--cwd")) cwd = v;
    else if (!strcmp(a, "--uid")) uid = (uid_t)atoi(v);
    else if (!strcmp(a, "--gid")) gid = (gid_t)atoi(v);
    else if (!strcmp(a, "--cgroup") && ncgroups < 16) cgroups[ncgroups++] = v;
    else if (!strcmp(a, "--env") && nenv < MAXV - 1) envv[nenv++] = (char *)v;
    /* exec */
    else if (exec_mode && !strcmp(a, "--pid")) exec_target = (pid_t)atoi(v);
    else if (exec_mode) { fprintf(stderr, "paas-run exec: unknown option %s\n", a); return -1; }
    /* run */
    else if (!strcmp(a, "--dir")) dir = v;
    else if (!strcmp(a, "--rootfs")) rootfs = v;
    else if (!strcmp(a, "--lower")) lower = v;
    else if (!strcmp(a, "--upper")) upper = v;
    else if (!strcmp(a, "--work")) work = v;
    else if (!strcmp(a, "--netns")) netns = v;
    else if (!strcmp(a, "--ip")) ipcidr = v;
    else if (!strcmp(a, "--gw")) gw = v;
    else if (!strcmp(a, "--hostname")) hostname_ = v;
    else if (!strcmp(a, "--oom-file")) oomfile = v;
    else if (!strcmp(a, "--userns")) userns_base = atol(v);
    else if (!strcmp(a, "--bind") && nbinds < 16) binds[nbinds++] = v;
    else { fprintf(stderr, "paas-run: unknown option %s\n", a); return -1; }
  }
  return -1;
}

static int cmd_run_fd(int argc, char **argv, int syncfd, int forked) {
  int i = parse_opts(argc, argv, 0);
  if (i < 0 || !dir || !rootfs || (lower && (!upper || !work))) {
    fprintf(stderr, "paas-run run: --dir, --rootfs and a command are required (--lower needs --upper and --work)\n");
    return 2;
  }
  cmd = argv + i;
  fcntl(syncfd, F_SETFD, FD_CLOEXEC);

  /* Detach: the monitor must survive the agent (and not be its child). In server mode the
   * server has forked us already (and reaps us); a fork less per start. */
  if (!forked) {
    pid_t m = fork();
    if (m < 0) { say(syncfd, "error", "fork: %s", strerror(errno)); return 1; }
    if (m > 0) return 0;
  }
  setsid();
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  int nul = open("/dev/null", O_RDWR);
  dup2(nul, 0);
  dup2(nul, 1);
  dup2(nul, 2);
  if (nul > 2) close(nul);
  if (chdir("/") < 0) {}
  char p[4096], line[32];
  path_in(p, sizeof p, "monitor.pid");
  snprintf(line, sizeof line, "%d\n", getpid());
  write_atomic(p, line);
  prctl(PR_SET_NAME, "paas-monitor", 0, 0, 0);
  return monitor(syncfd);
}

/* ---------- exec: a process into a running container, held like its init ----------
 *   paas-run exec --pid PID [--uid N --gid N --cwd D --env K=V... --cgroup DIR...] -- CMD...
 * Joins the container's cgroups and namespaces (its user namespace last, in the child),
 * then the same cuts as the container's own start: capabilities, no_new_privs, seccomp.
 * stdio is passed through; exits with the command's code. */
static int cmd_exec(int argc, char **argv) {
  int i = parse_opts(argc, argv, 1);
  pid_t target = exec_target;
  if (i < 0 || target <= 0) { fprintf(stderr, "paas-run exec: --pid and a command are required\n"); return 2; }
  cmd = argv + i;

  char num[32], p[4096];
  snprintf(num, sizeof num, "%d", getpid());
  for (int k = 0; k < ncgroups; k++) {
    snprintf(p, sizeof p, "%s/cgroup.procs", cgroups[k]);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, num, strlen(num)) < 0) die("join cgroup %s", cgroups[k]);
    close(fd);
  }
  /* All fds first: after the mount namespace changes, /proc is the container's. */
  const char *names[] = {"ipc", "uts", "net", "pid", "mnt"};
  int fds[5], userfd = -1;
  for (int k = 0; k < 5; k++) {
    snprintf(p, sizeof p, "/proc/%d/ns/%s", target, names[k]);
    if ((fds[k] = open(p, O_RDONLY | O_CLOEXEC)) < 0) die("open %s (is the container running?)", p);
  }
  struct stat mine, theirs;
  snprintf(p, sizeof p, "/proc/%d/ns/user", target);
  if (stat("/proc/self/ns/user", &mine) == 0 && stat(p, &theirs) == 0 && mine.st_ino != theirs.st_ino &&
      (userfd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
    die("open %s", p);
  for (int k = 0; k < 5; k++) {
    if (setns(fds[k], 0) < 0) die("join the container's %s namespace", names[k]);
    close(fds[k]);
  }
  pid_t c = fork(); /* the pid namespace applies to children */
  if (c < 0) die("fork");
  if (c == 0) {
    if (userfd >= 0 && setns(userfd, CLONE_NEWUSER) < 0) die("join the container's user namespace");
    become_user_and_exec();
  }
  /* Signals for the command go to it (^C in a terminal reaches both anyway). */
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  int status = 0;
  while (waitpid(c, &status, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* paas-run idmap BASE SRC DST [SRC DST...]: idmapped bind mounts on the host (the overlay
 * root of a container with volumes is mounted there; see volumes.ts). */
static int cmd_idmap(int argc, char **argv) {
  if (argc < 5 || (argc - 3) % 2) { fprintf(stderr, "usage: paas-run idmap BASE SRC DST [SRC DST...]\n"); return 2; }
  int fd = kept_userns(atol(argv[2]));
  if (fd < 0) die("make the user namespace");
  for (int i = 3; i + 1 < argc; i += 2)
    if (idmap_mount(fd, argv[i], argv[i + 1]) < 0) die("idmapped mount of %s on %s", argv[i], argv[i + 1]);
  return 0;
}

/* paas-run userns-probe DIR: can this kernel run containers in a user namespace the way
 * we do (an overlay over idmapped layers)? Exit 0 if so; DIR is scratch (emptied by the caller). */
static int cmd_userns_probe(const char *d) {
  if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("private mount namespace");
  int fd = make_userns(100000);
  if (fd < 0) die("user namespace");
  char l[4096], i[4096], u[4096], w[4096], m[4096], opts[16384];
  snprintf(l, sizeof l, "%s/l", d);
  snprintf(i, sizeof i, "%s/i", d);
  snprintf(u, sizeof u, "%s/u", d);
  snprintf(w, sizeof w, "%s/w", d);
  snprintf(m, sizeof m, "%s/m", d);
  const char *dirs[] = {l, i, u, w, m};
  for (int k = 0; k < 5; k++)
    if (mkdir(dirs[k], 0700) < 0 && errno != EEXIST) die("mkdir %s", dirs[k]);
  if (idmap_mount(fd, l, i) < 0) die("idmapped mount");
  if (chown(u, 100000, 100000) < 0) die("chown");
  snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", i, u, w);
  if (mount("overlay", m, "overlay", MS_NODEV, opts) < 0) die("overlay over an idmapped layer");
  return 0;
}

/* ---------- layer helpers ---------- */

static int walk(const char *root, const char *rel, int mode) {
  char path[4096];
  snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
  DIR *d = opendir(path);
  if (!d) return 0;
  struct dirent *e;
  int rc = 0;
  if (mode == 1) {
    char v[4];
    ssize_t n = lgetxattr(path, "trusted.overlay.opaque", v, sizeof v);
    if (n == 1 && v[0] == 'y') printf("%s\n", *rel ? rel : ".");
  }
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char sub[4096], full[4096];
    snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
    snprintf(full, sizeof full, "%s/%s", path, e->d_name);
    if (mode == 0 && !strncmp(e->d_name, ".wh.", 4)) {
      unlink(full);
      if (!strcmp(e->d_name, ".wh..wh..opq")) {
        if (setxattr(path, "trusted.overlay.opaque", "y", 1, 0) < 0) { perror(path); rc = 1; }
      } else {
        char target[4096];
        snprintf(target, sizeof target, "%s/%s", path, e->d_name + 4);
        if (mknod(target, S_IFCHR | 0000, makedev(0, 0)) < 0) { perror(target); rc = 1; }
      }
      continue;
    }
    struct stat st;
    if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) rc |= walk(root, sub, mode);
  }
  closedir(d);
  return rc;
}

/* ---------- server mode: one long-lived helper, so a start costs a fork of this small
 * process instead of a spawn from the (large) agent process ----------
 * Request on stdin:  "ID ARGC\n" then ARGC times "LEN\n" + LEN bytes.
 *   argv[0] == "run":  as `paas-run run ...`; reply "ID ok PID" / "ID error MSG"
 *   argv[0] == "exec": argv[1] is stdin data, argv[2..] the command; reply with its exit
 *                      code and its combined output
 * Reply on stdout: "ID STATUS LEN\n" + LEN bytes.  EOF on stdin ends the server (monitors live on).
 */
static volatile pid_t exec_pid;

/* Reaps exited monitors (children in server mode), never the exec child being waited for. */
static void on_chld(int sig) {
  int e = errno;
  for (;;) {
    siginfo_t si;
    si.si_pid = 0;
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0) break;
    if (exec_pid != 0 && (si.si_pid == exec_pid || exec_pid == -1)) break;
    waitpid(si.si_pid, NULL, 0);
  }
  errno = e;
}

static int read_full(FILE *f, char *buf, size_t n) { return fread(buf, 1, n, f) == n ? 0 : -1; }

static void reply(unsigned long id, const char *status, const char *data, size_t len) {
  printf("%lu %s %zu\n", id, status, len);
  fwrite(data, 1, len, stdout);
  fflush(stdout);
}

static void serve_exec(unsigned long id, int argc, char **argv) {
  int in[2], out[2];
  if (argc < 3 || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) { reply(id, "127", "bad exec request", 16); return; }
  exec_pid = -1; /* until fork returns, on_chld must not reap anything unknown as ours */
  pid_t p = fork();
  if (p > 0) exec_pid = p;
  if (p == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    execvp(argv[2], argv + 2);
    fprintf(stderr, "exec %s: %s", argv[2], strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  /* small inputs (ip -batch scripts) fit the pipe buffer */
  if (write(in[1], argv[1], strlen(argv[1])) < 0) {}
  close(in[1]);
  static char buf[1 << 16];
  size_t len = 0;
  ssize_t n;
  while ((n = read(out[0], buf + len, sizeof buf - len)) > 0 || (n < 0 && errno == EINTR)) if (n > 0) len += n;
  close(out[0]);
  int status = 0;
  while (waitpid(p, &status, 0) < 0 && errno == EINTR) {}
  exec_pid = 0;
  char code[16];
  snprintf(code, sizeof code, "%d", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  reply(id, code, buf, len);
}

/* A monitor forked ahead of its request ("spare"), parked on a pipe: a fork costs ~1-2 ms
 * here (page tables are expensive in this VM), so it is paid after a start's reply instead
 * of inside the next start. It reads its request (id and args, NUL-terminated, until EOF)
 * and then is what serve_run's fork used to make. It dies with the server (EOF, no request). */
static int spare_req = -1, spare_sync = -1; /* our ends: request to write, its word to read */

static void fork_spare(void) {
  int rq[2], sp[2];
  if (pipe2(rq, O_CLOEXEC) < 0) return;
  if (pipe2(sp, O_CLOEXEC) < 0) { close(rq[0]); close(rq[1]); return; }
  pid_t p = fork();
  if (p == 0) {
    close(rq[1]);
    close(sp[0]);
    signal(SIGCHLD, SIG_DFL);
    reply_fd = fcntl(1, F_DUPFD_CLOEXEC, 3); /* say() answers the agent on it */
    int nul = open("/dev/null", O_RDWR); /* not the server's stdio while parked */
    dup2(nul, 0);
    dup2(nul, 1);
    if (nul > 1) close(nul);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while (buf && ((n = read(rq[0], buf + len, cap - len)) > 0 || (n < 0 && errno == EINTR))) {
      if (n > 0 && (len += n) == cap) buf = realloc(buf, cap *= 2);
    }
    close(rq[0]);
    if (!buf || len == 0 || buf[len - 1] != 0) _exit(0); /* the server went away */
    /* the request's id, then its args */
    reply_id = strtoul(buf, NULL, 10);
    size_t start = strlen(buf) + 1;
    int argc = 2;
    for (size_t i = start; i < len; i++) argc += !buf[i];
    char **a = calloc(argc + 1, sizeof *a);
    a[0] = "paas-run";
    a[1] = "run";
    for (size_t i = start, k = 2; i < len; i += strlen(buf + i) + 1) a[k++] = buf + i;
    _exit(cmd_run_fd(argc, a, sp[1], 1));
  }
  close(rq[0]);
  close(sp[1]);
  if (p < 0) { close(rq[1]); close(sp[0]); return; }
  spare_req = rq[1];
  spare_sync = sp[0];
}

/* Hands the request to the spare; the fd to read its word from, or -1 (no spare, or it died). */
static int use_spare(unsigned long id, int argc, char **argv) {
  if (spare_req < 0) return -1;
  int req = spare_req, sync = spare_sync;
  spare_req = spare_sync = -1;
  int ok = 1;
  char ids[32];
  snprintf(ids, sizeof ids, "%lu", id);
  for (int i = 0; i < argc && ok; i++) {
    const char *s = i ? argv[i] : ids; /* argv[0] is "run": the id goes in its place */
    size_t left = strlen(s) + 1; /* with its NUL */
    while (left && ok) {
      ssize_t n = write(req, s, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) ok = 0;
      else { s += n; left -= n; }
    }
  }
  close(req);
  if (!ok) { close(sync); return -1; }
  return sync;
}

static void serve_run(unsigned long id, int argc, char **argv) {
  int rd = use_spare(id, argc, argv);
  if (rd < 0) {
    /* no spare: fork one now, as a start did before spares */
    fork_spare();
    rd = use_spare(id, argc, argv);
    if (rd < 0) { reply(id, "error", "fork failed", 11); return; }
  }
  static char buf[2048];
  size_t len = 0;
  ssize_t n;
  while ((n = read(rd, buf + len, sizeof buf - 1 - len)) > 0 || (n < 0 && errno == EINTR)) if (n > 0) len += n;
  close(rd);
  /* the monitor lives on; on_chld reaps it when it exits */
  while (len && buf[len - 1] == '\n') len--;
  buf[len] = 0;
  if (!strcmp(buf, "r")) {} /* it answered the agent itself (say) */
  else if (!strncmp(buf, "ok ", 3)) reply(id, "ok", buf + 3, len - 3);
  else if (!strncmp(buf, "error ", 6)) reply(id, "error", buf + 6, len - 6);
  else reply(id, "error", "the monitor exited without a word", 33);
  fork_spare(); /* after the reply: the next start finds it ready */
}

static int serve(void) {
  /* Only stdin/stdout/stderr are ours: a descriptor the agent's parent let it inherit (tsx's
   * IPC pipe) would otherwise live on in every monitor, and in the parent's view never close. */
  syscall(SYS_close_range, 3, ~0U, 0);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {0};
  sa.sa_handler = on_chld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  fork_spare();
  unsigned long id;
  int argc;
  while (scanf("%lu %d", &id, &argc) == 2) {
    if (getchar() != '\n' || argc <= 0 || argc > 4096) return 2;
    char **argv = calloc(argc + 1, sizeof *argv);
    for (int i = 0; i < argc; i++) {
      size_t len;
      if (scanf("%zu", &len) != 1 || getchar() != '\n') return 2;
      argv[i] = malloc(len + 1);
      if (read_full(stdin, argv[i], len) < 0) return 2;
      argv[i][len] = 0;
    }
    if (!strcmp(argv[0], "run")) serve_run(id, argc, argv);
    else if (!strcmp(argv[0], "exec")) serve_exec(id, argc, argv);
    else reply(id, "error", "unknown request", 15);
    for (int i = 0; i < argc; i++) free(argv[i]);
    free(argv);
  }
  return 0;
}

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
