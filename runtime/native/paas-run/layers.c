#include "paas-run.h"

/* ---------- layer helpers ---------- */

int walk(const char *root, const char *rel, int mode) {
  char path[4096];
  snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
  DIR *d = opendir(path);
  if (!d) return 0;
  struct dirent *e;
  int rc = 0;
  if (mode == 1) {
    char v[4];
    ssize_t n = lgetxattr(path, "trusted.overlay.opaque", v, sizeof v);
    if (n == 1 && v[0] == 'y') printf("%s\n", *rel ? rel : ".");
  }
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char sub[4096], full[4096];
    snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
    snprintf(full, sizeof full, "%s/%s", path, e->d_name);
    if (mode == 0 && !strncmp(e->d_name, ".wh.", 4)) {
      unlink(full);
      if (!strcmp(e->d_name, ".wh..wh..opq")) {
        if (setxattr(path, "trusted.overlay.opaque", "y", 1, 0) < 0) { perror(path); rc = 1; }
      } else {
        char target[4096];
        snprintf(target, sizeof target, "%s/%s", path, e->d_name + 4);
        if (mknod(target, S_IFCHR | 0000, makedev(0, 0)) < 0) { perror(target); rc = 1; }
      }
      continue;
    }
    struct stat st;
    if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) rc |= walk(root, sub, mode);
  }
  closedir(d);
  return rc;
}
