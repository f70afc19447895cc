/* paas-run's shared header: the options every role reads (set once by parse_opts, before
 * any fork or clone) and the functions one role calls in another. Roles, one file each:
 *   main.c     the command line (see its header for usage)
 *   common.c   the options, die/say (how a start reports), write_atomic
 *   monitor.c  `run`: the per-container monitor (logs, exit status) that clones the container
 *   init.c     the container's process from its clone to its exec (mounts, /dev, network)
 *   confine.c  the cuts before any container process execs: capabilities, user, seccomp
 *   exec.c     `exec`: a process into a running container
 *   server.c   `serve`: the long-lived fork server with its pre-forked spare monitor
 *   userns.c   user namespaces (kept per team) and idmapped mounts; `idmap`, `userns-probe`
 *   layers.c   `unwhiteout`/`opaque` walks over unpacked layers */
#ifndef PAAS_RUN_H
#define PAAS_RUN_H
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

/* ---------- options of `run` and `exec` (common.c) ---------- */
extern const char *dir, *rootfs, *lower, *upper, *work, *netns, *ipcidr, *gw, *hostname_, *cwd, *oomfile;
extern const char *cgroups[16];
extern int ncgroups;
#define MAXBINDS 64
extern const char *binds[MAXBINDS];
extern int bind_rw[MAXBINDS];
extern int nbinds;
extern char *envv[MAXV];
extern int nenv;
extern uid_t uid;
extern gid_t gid;
extern char **cmd;
/* --userns BASE: container uids/gids 0..65535 are host BASE..BASE+65535 (-1: no user namespace) */
extern long userns_base;
extern int userns_fd;
extern pid_t exec_target; /* exec's --pid */
extern int exec_tty;       /* exec's --tty 1 */
/* Options into the globals; returns the index of the command, or -1. */
int parse_opts(int argc, char **argv, int exec_mode);

extern int errfd; /* child -> monitor: error message before exec (CLOEXEC) */
extern int logfd; /* the monitor's log.ndjson */
/* Server mode: the agent's end of the server's replies and the request's id, for say(). */
extern int reply_fd;
extern unsigned long reply_id;

void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void write_atomic(const char *path, const char *data);
void say(int syncfd, const char *status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---------- monitor.c ---------- */
int cmd_run(int argc, char **argv);
/* `run` with its word going to SYNCFD; FORKED: already a child of the server (no detaching fork). */
int cmd_run_fd(int argc, char **argv, int syncfd, int forked);

/* ---------- init.c: what the monitor hands the container's process at its clone ---------- */
struct child_fds { int go_r, go_w, out_w, err_w, errpipe_w, syncfd; };
int container_start(void *arg);

/* ---------- confine.c ---------- */
void become_user_and_exec(void) __attribute__((noreturn));

/* ---------- exec.c, server.c, layers.c ---------- */
int cmd_exec(int argc, char **argv);
int serve(void);
/* mode 0: unwhiteout ROOT; mode 1: print dirs with the overlay opaque xattr */
int walk(const char *root, const char *rel, int mode);

/* ---------- userns.c ---------- */
int kept_userns(long base);
int idmap_mount(int nsfd, const char *src, const char *dst);
int cmd_idmap(int argc, char **argv);
int cmd_userns_probe(const char *d);

#endif
