#include "paas-run.h"

/* ---------- exec: a process into a running container, held like its init ----------
 *   paas-run exec --pid PID [--tty 1 --uid N --gid N --cwd D --env K=V... --cgroup DIR...] -- CMD...
 * Joins the container's cgroups and namespaces (its user namespace last, in the child),
 * then the same cuts as the container's own start: capabilities, no_new_privs, seccomp.
 * stdio is passed through; exits with the command's code.
 * --tty 1: the command gets a terminal of the container's own devpts (opened once in its
 * mount namespace, as runc's console is, so nothing of the host's /dev/pts is handed in) as
 * its controlling terminal, and this process relays stdin -> terminal -> stdout; a line
 * "ROWS COLS\n" on fd 3 sets the window size (the kernel sends the command SIGWINCH). */

static volatile sig_atomic_t child_done;
static void on_child(int sig) { child_done = 1; }

static int write_full(int fd, const char *p, ssize_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= w;
  }
  return 0;
}

/* Until the command has exited and its terminal's output is read: a background process
 * that keeps the terminal open does not hold the exec (as docker exec). */
static void relay_tty(int master, pid_t child, sigset_t *waitmask) {
  int in_open = 1, ctl_open = fcntl(3, F_GETFD) >= 0;
  char buf[1 << 15], line[64];
  size_t line_len = 0;
  for (;;) {
    struct pollfd pf[3] = {{.fd = master, .events = POLLIN}, {.fd = in_open ? 0 : -1, .events = POLLIN}, {.fd = ctl_open ? 3 : -1, .events = POLLIN}};
    if (child_done) {
      /* what the command wrote last, then done */
      fcntl(master, F_SETFL, O_NONBLOCK);
      ssize_t n;
      while ((n = read(master, buf, sizeof buf)) > 0) if (write_full(1, buf, n) < 0) break;
      return;
    }
    if (ppoll(pf, 3, NULL, waitmask) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (pf[0].revents) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n <= 0) { if (n < 0 && errno == EINTR) continue; return; } /* EIO: every holder of the terminal closed it */
      if (write_full(1, buf, n) < 0) return;
    }
    if (pf[1].revents) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n <= 0) in_open = 0; /* the caller's input ended: the command reads on until it exits */
      else write_full(master, buf, n);
    }
    if (pf[2].revents) {
      ssize_t n = read(3, line + line_len, sizeof line - 1 - line_len);
      if (n <= 0) { ctl_open = 0; continue; }
      line_len += n;
      char *nl;
      while ((nl = memchr(line, '\n', line_len))) {
        *nl = 0;
        unsigned rows, cols;
        if (sscanf(line, "%u %u", &rows, &cols) == 2) {
          struct winsize ws = {.ws_row = rows, .ws_col = cols};
          ioctl(master, TIOCSWINSZ, &ws);
        }
        line_len -= nl + 1 - line;
        memmove(line, nl + 1, line_len);
      }
      if (line_len == sizeof line - 1) line_len = 0; /* no newline in a full buffer: not ours */
    }
  }
  (void)child;
}
int cmd_exec(int argc, char **argv) {
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
  int master = -1, slave = -1;
  if (exec_tty) {
    /* the container's /dev/ptmx: we are in its mount namespace, at its root */
    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) die("open a terminal in the container (/dev/ptmx)");
    const char *name = ptsname(master);
    if (!name || (slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) die("open the container's terminal %s", name ? name : "?");
  }
  sigset_t chld, waitmask;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  struct sigaction sa = {.sa_handler = on_child};
  sigaction(SIGCHLD, &sa, NULL);
  sigprocmask(SIG_BLOCK, &chld, &waitmask); /* open only inside ppoll: no exit is missed */
  pid_t c = fork(); /* the pid namespace applies to children */
  if (c < 0) die("fork");
  if (c == 0) {
    sigprocmask(SIG_SETMASK, &waitmask, NULL);
    if (slave >= 0) {
      /* a session of its own, with the terminal as its controlling one */
      if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) die("make the terminal the command's own");
      for (int f = 0; f < 3; f++) if (dup2(slave, f) < 0) die("dup2");
      close(3); /* the window-size channel is ours */
    }
    if (userfd >= 0 && setns(userfd, CLONE_NEWUSER) < 0) die("join the container's user namespace");
    become_user_and_exec();
  }
  /* Signals for the command go to it (^C in a terminal reaches both anyway). */
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  if (master >= 0) {
    close(slave);
    relay_tty(master, c, &waitmask);
  }
  int status = 0;
  while (waitpid(c, &status, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
