/**
 * .dockerignore: one pattern a line (Go filepath.Match plus `**`), `!` re-includes,
 * the last matching pattern wins; a pattern that matches a directory excludes what is in it.
 */
export type IgnoreMatcher = (rel: string) => boolean;

function toRegex(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*" && pattern[i + 1] === "*") {
      i++;
      if (pattern[i + 1] === "/") {
        i++;
        re += "(?:.*/)?";
      } else re += ".*";
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

export function loadIgnore(text: string): IgnoreMatcher {
  const rules = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const negate = l.startsWith("!");
      const p = (negate ? l.slice(1) : l).trim().replace(/^\/+/, "").replace(/\/+$/, "").replace(/^\.\//, "");
      return { negate, re: toRegex(p) };
    });
  if (!rules.length) return () => false;
  return (rel: string) => {
    const parts = rel.split("/");
    let ignored = false;
    for (const r of rules) {
      // The path or any directory above it.
      for (let i = parts.length; i >= 1; i--) {
        if (r.re.test(parts.slice(0, i).join("/"))) {
          ignored = !r.negate;
          break;
        }
      }
    }
    return ignored;
  };
}
