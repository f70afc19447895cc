/* What every role shares: the parsed options of `run` and `exec`, the start's error and
 * reply channels, and the small writers of errors and state files. */
#include "paas-run.h"

const char *dir, *rootfs, *lower, *upper, *work, *netns, *ipcidr, *gw, *hostname_, *cwd = "/", *oomfile;
const char *cgroups[16];
int ncgroups;
const char *binds[MAXBINDS];
int bind_rw[MAXBINDS];
int nbinds;
char *envv[MAXV];
int nenv;
uid_t uid;
gid_t gid;
char **cmd;
long userns_base = -1;
int userns_fd = -1;

int errfd = -1;
int logfd = -1;
int reply_fd = -1;
unsigned long reply_id;

void die(const char *fmt, ...) {
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
void write_atomic(const char *path, const char *data) {
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
void say(int syncfd, const char *status, const char *fmt, ...) {
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

pid_t exec_target;
int exec_tty;

int parse_opts(int argc, char **argv, int exec_mode) {
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
    else if (exec_mode && !strcmp(a, "--tty")) exec_tty = !strcmp(v, "1");
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
    else if (!strcmp(a, "--bind") || !strcmp(a, "--bind-rw")) {
      if (nbinds == MAXBINDS) { fprintf(stderr, "paas-run: more than %d binds\n", MAXBINDS); return -1; }
      bind_rw[nbinds] = !strcmp(a, "--bind-rw");
      binds[nbinds++] = v;
    }
    else { fprintf(stderr, "paas-run: unknown option %s\n", a); return -1; }
  }
  return -1;
}
