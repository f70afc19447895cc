/* ---------- the cuts every process of a container gets before its exec ----------
 * (its init and exec'd ones): capabilities, the user, no_new_privs, seccomp. */
#include "paas-run.h"

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
void become_user_and_exec(void) {
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
