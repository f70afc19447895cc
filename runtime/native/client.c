/*
 * paas-client: the operator CLI's thin client. runtime/bin/paas-runtime runs it when the
 * host's agent has its CLI socket; it forwards the command line (and the environment, for
 * `-e NAME`) to the agent, which runs the command in its warm process
 * (runtime/src/agent/cli-socket.ts: the frames are described there), and relays the output
 * and the exit code. Ctrl-C, SIGTERM and SIGHUP are forwarded to the command.
 *
 *   paas-client SOCKET FALLBACK [ARGS...]
 *
 * When nobody listens on SOCKET (the agent is down) or the agent answers "run it yourself",
 * it execs FALLBACK ARGS... with PAAS_RUNTIME_NODE=1: the CLI in its own process, which runs
 * the caller-side commands against the agent's HTTP API (or says that no agent runs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

static char **fallback_argv;

static void fallback(void) {
  setenv("PAAS_RUNTIME_NODE", "1", 1);
  execv(fallback_argv[0], fallback_argv);
  fprintf(stderr, "paas-runtime: cannot run %s: %s\n", fallback_argv[0], strerror(errno));
  exit(126);
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* A growable buffer for the request frame. */
static char *req;
static size_t req_len, req_cap;
static void put(const void *p, size_t n) {
  if (req_len + n > req_cap) {
    req_cap = (req_len + n) * 2 + 4096;
    req = realloc(req, req_cap);
    if (!req) { fputs("paas-runtime: out of memory\n", stderr); exit(1); }
  }
  memcpy(req + req_len, p, n);
  req_len += n;
}
static void put_str(const char *s) { put(s, strlen(s) + 1); /* with its NUL */ }

static int send_frame(int fd, char type, const char *p, uint32_t n) {
  char head[5] = {type, (char)(n >> 24), (char)(n >> 16), (char)(n >> 8), (char)n};
  return write_all(fd, head, 5) < 0 || write_all(fd, p, n) < 0 ? -1 : 0;
}

static volatile sig_atomic_t pending[65];
static void on_signal(int sig) { pending[sig] = 1; }

int main(int argc, char **argv) {
  if (argc < 3) {
    fputs("usage: paas-client SOCKET FALLBACK [ARGS...]\n", stderr);
    return 2;
  }
  const char *sock_path = argv[1];
  fallback_argv = argv + 2;

  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(sock_path) >= sizeof addr.sun_path) fallback();
  strcpy(addr.sun_path, sock_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) fallback(); /* no agent: local */

  /* R: version, argc, args, then the environment */
  char num[32];
  put_str("paas-cli/1");
  snprintf(num, sizeof num, "%d", argc - 3);
  put_str(num);
  for (int i = 3; i < argc; i++) put_str(argv[i]);
  for (char **e = environ; *e; e++) put_str(*e);
  if (send_frame(fd, 'R', req, (uint32_t)req_len) < 0) fallback();
  free(req);

  /* Signals are blocked but while waiting in ppoll, so none is missed between checks. */
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  sigset_t block, waitmask;
  sigemptyset(&block);
  struct sigaction sa = {.sa_handler = on_signal};
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
    sigaction(sigs[i], &sa, NULL);
    sigaddset(&block, sigs[i]);
  }
  signal(SIGPIPE, SIG_IGN);
  sigprocmask(SIG_BLOCK, &block, &waitmask);

  static char buf[1 << 16];
  size_t have = 0;
  for (;;) {
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
      if (!pending[sigs[i]]) continue;
      pending[sigs[i]] = 0;
      snprintf(num, sizeof num, "%d", sigs[i]);
      send_frame(fd, 'S', num, (uint32_t)strlen(num));
    }
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    if (ppoll(&pf, 1, NULL, &waitmask) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    ssize_t n = read(fd, buf + have, sizeof buf - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += (size_t)n;
    size_t off = 0;
    while (have - off >= 5) {
      const unsigned char *h = (const unsigned char *)buf + off;
      uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
      if (len > sizeof buf - 5) { fputs("paas-runtime: a bad frame from the agent\n", stderr); return 1; }
      if (have - off < 5 + len) break;
      const char *p = buf + off + 5;
      switch (h[0]) {
        case 'O':
          /* stdout closed (| head): a process killed by SIGPIPE exits 141 */
          if (write_all(1, p, len) < 0) return 141;
          break;
        case 'E':
          write_all(2, p, len);
          break;
        case 'X': {
          char code[16] = "";
          memcpy(code, p, len < sizeof code - 1 ? len : sizeof code - 1);
          return atoi(code);
        }
        case 'L':
          close(fd);
          sigprocmask(SIG_SETMASK, &waitmask, NULL);
          fallback();
      }
      off += 5 + len;
    }
    memmove(buf, buf + off, have - off);
    have -= off;
  }
  fputs("paas-runtime: the agent hung up before the command finished (its log says why); while it is down, paas-runtime --local runs commands without it\n", stderr);
  return 1;
}
