/* ---------- container init: the container's process from its clone to its exec ---------- */
#include "paas-run.h"

/* Writes VALUE into a sysctl of the current network namespace (through the host's /proc,
 * before ours is mounted). */
static void net_sysctl(const char *name, const char *value) {
  char p[256];
  snprintf(p, sizeof p, "/proc/sys/net/%s", name);
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, value, strlen(value)) < 0) die("set %s", p);
  close(fd);
}

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
    struct stat st, sst;
    if (stat(dst, &st) < 0) {
      for (char *q = dst + 2; *q; q++) /* parents, for images without /etc */
        if (*q == '/') { *q = 0; mkdir(dst, 0755); *q = '/'; }
      if (stat(src, &sst) == 0 && S_ISDIR(sst.st_mode)) mkdir(dst, 0755);
      else {
        int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd >= 0) close(fd);
      }
    }
    mnt(src, dst, NULL, MS_BIND, NULL);
    /* by host root, in a mount namespace the container's root never holds CAP_SYS_ADMIN over:
     * it cannot remount the bind writable, with or without a user namespace */
    mnt(NULL, dst, NULL, MS_BIND | MS_REMOUNT | (bind_rw[i] ? 0 : MS_RDONLY) | MS_NOSUID | MS_NODEV, NULL);
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

/* The container's process until its exec, cloned with CLONE_VM: it runs in the monitor's
 * memory on a stack of its own, as a vfork child does, because copying the address space
 * (fork) costs ~1 ms a start where page tables are expensive (VMs). They never work at once:
 * until the go byte this side only closes a pipe end and waits in read() while the monitor
 * writes the pid file; after it, the monitor waits in read() on the error pipe until our
 * exec or _exit. What this side writes meanwhile (errno, errfd, strtok's state, the option
 * globals) the monitor does not use again after the clone, except errno, which it reads
 * only after its own calls. */
int container_start(void *arg) {
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
