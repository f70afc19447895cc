#include "paas-run.h"

/* ---------- exec: a process into a running container, held like its init ----------
 *   paas-run exec --pid PID [--uid N --gid N --cwd D --env K=V... --cgroup DIR...] -- CMD...
 * Joins the container's cgroups and namespaces (its user namespace last, in the child),
 * then the same cuts as the container's own start: capabilities, no_new_privs, seccomp.
 * stdio is passed through; exits with the command's code. */
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
