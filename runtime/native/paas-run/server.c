#include "paas-run.h"

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

int serve(void) {
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
