#include "paas-run.h"

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

int kept_userns(long base) {
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
int idmap_mount(int nsfd, const char *src, const char *dst) {
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

/* paas-run idmap BASE SRC DST [SRC DST...]: idmapped bind mounts on the host (the overlay
 * root of a container with volumes is mounted there; see volumes.ts). */
int cmd_idmap(int argc, char **argv) {
  if (argc < 5 || (argc - 3) % 2) { fprintf(stderr, "usage: paas-run idmap BASE SRC DST [SRC DST...]\n"); return 2; }
  int fd = kept_userns(atol(argv[2]));
  if (fd < 0) die("make the user namespace");
  for (int i = 3; i + 1 < argc; i += 2)
    if (idmap_mount(fd, argv[i], argv[i + 1]) < 0) die("idmapped mount of %s on %s", argv[i], argv[i + 1]);
  return 0;
}

/* paas-run userns-probe DIR: can this kernel run containers in a user namespace the way
 * we do (an overlay over idmapped layers)? Exit 0 if so; DIR is scratch (emptied by the caller). */
int cmd_userns_probe(const char *d) {
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
