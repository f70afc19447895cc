#include "paas-run.h"

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


int cmd_run(int argc, char **argv) {
  int syncfd = 3;
  struct stat st;
  if (fstat(syncfd, &st) < 0) syncfd = open("/dev/null", O_WRONLY); /* run by hand: no sync pipe */
  return cmd_run_fd(argc, argv, syncfd, 0);
}

int cmd_run_fd(int argc, char **argv, int syncfd, int forked) {
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
