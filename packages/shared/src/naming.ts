/**
 * Naming rules for apps, teams, preview apps and their hosts: one definition used by every
 * entry point (the API, the git endpoint, the CLI, the worker's routes).
 *
 * An app's name is the first label of its host (`<app>.<domain>`), so every app name is a
 * DNS label (at most 63 characters). Names people choose are kept to 30 so that a preview
 * app, `<parent>--<label>`, still fits one label with the longest parent; the preview's own
 * host, `<label>.<parent>.<domain>`, then has two labels that fit too.
 */
import { createHash } from "node:crypto";
import { z } from "zod";

/** RFC 1035: a DNS label has at most 63 characters. */
export const DNS_LABEL_MAX = 63;
/** The longest app (or team) name one can choose. */
export const APP_NAME_MAX = 30;
/** The longest branch label: `<parent>--<label>` fits a DNS label for a parent of APP_NAME_MAX. */
export const PREVIEW_LABEL_MAX = DNS_LABEL_MAX - APP_NAME_MAX - "--".length;

const LABEL_RE = /^[a-z][a-z0-9-]*[a-z0-9]$/;
const LABEL_RULE = "app names use lowercase letters, digits and dashes, start with a letter and do not end with a dash";

/** A name for a new app (apps:create) or team. */
export const newAppName = z
  .string()
  .min(2, "app names have at least 2 characters")
  .max(APP_NAME_MAX, `app names have at most ${APP_NAME_MAX} characters`)
  .regex(LABEL_RE, LABEL_RULE);

/** Any app's name, as requests refer to it: a chosen one or a preview app's `<parent>--<label>`. */
export const appName = z
  .string()
  .min(2, "app names have at least 2 characters")
  .max(DNS_LABEL_MAX, `app names have at most ${APP_NAME_MAX} characters (${DNS_LABEL_MAX} for a preview app's)`)
  .regex(LABEL_RE, LABEL_RULE);

export const teamName = newAppName.describe("team name");

/**
 * A branch an app deploys from, as git allows one (git check-ref-format, kept to the usual
 * characters): no "..", "//", "@{", no part starting with "." or ending with ".lock".
 */
export const branchName = z
  .string()
  .trim()
  .min(1, "name a branch, e.g. main")
  .max(200, "a branch name has at most 200 characters")
  .regex(/^[A-Za-z0-9._\/-]+$/, "a branch name uses letters, digits and . _ - / (e.g. main, release/2026)")
  .refine((b) => !b.startsWith("-") && !b.startsWith("/") && !b.endsWith("/") && !b.endsWith(".") && !b.includes("..") && !b.includes("//"), "a branch name does not start with - or /, end with / or ., or hold .. or //")
  .refine((b) => b.split("/").every((part) => !part.startsWith(".") && !part.endsWith(".lock")), "no part of a branch name starts with . or ends with .lock")
  .refine((b) => b !== "HEAD", "HEAD is not a branch");

/**
 * The host label of a branch: lowercase letters, digits and dashes, at most PREVIEW_LABEL_MAX.
 * A longer one is cut and ends in 6 hex digits of the branch's hash, so two long branches
 * sharing a beginning still get labels of their own, and a branch always gets the same one.
 * Null when the branch has no letter or digit to make one of.
 */
export function branchLabel(branch: string): string | null {
  const label = branch
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (!label) return null;
  if (label.length <= PREVIEW_LABEL_MAX) return label;
  const hash = createHash("sha256").update(branch).digest("hex").slice(0, 6);
  return `${label.slice(0, PREVIEW_LABEL_MAX - hash.length - 1).replace(/-+$/, "")}-${hash}`;
}

/** The preview app of `label` (from branchLabel) of the app `parent`. */
export const previewAppName = (parent: string, label: string): string => `${parent}--${label}`;

/** The host an app answers at. */
export const appHostName = (app: string, domain: string): string => `${app}.${domain}`;

/** The host a preview app answers at besides its own: `<label>.<parent>.<domain>`. */
export const previewHostName = (label: string, parent: string, domain: string): string => `${label}.${appHostName(parent, domain)}`;

/** RFC 1035: a host name has at most 253 characters. */
export const HOSTNAME_MAX = 253;
const HOST_LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Why `host` (lower-cased, no trailing dot) cannot be a custom domain, or null. Wildcards
 * (`*.example.com`) are refused: the router finds an app by an exact lookup of the Host
 * header (one map lookup per request), so each host name is added on its own.
 */
export function customDomainProblem(host: string): string | null {
  if (host.startsWith("*.")) return `wildcard domains are not supported: add each host name (e.g. www.${host.slice(2)}) on its own`;
  if (host.length > HOSTNAME_MAX) return `a host name has at most ${HOSTNAME_MAX} characters`;
  const labels = host.split(".");
  if (labels.length < 2) return `"${host}" is not a full domain name: give one like www.example.com`;
  const bad = labels.find((l) => !HOST_LABEL_RE.test(l));
  if (bad !== undefined) {
    return `"${host}" is not a domain name: each dot-separated part has 1-63 letters, digits or dashes and neither starts nor ends with a dash`;
  }
  if (/^\d+$/.test(labels[labels.length - 1])) return `"${host}" is an IP address, not a domain name`;
  return null;
}

/** A custom domain as people type it (any case, a trailing dot allowed), lower-cased. */
export const customDomainName = z
  .string()
  .trim()
  .toLowerCase()
  .transform((h) => (h.endsWith(".") ? h.slice(0, -1) : h))
  .superRefine((h, ctx) => {
    const why = customDomainProblem(h);
    if (why) ctx.addIssue({ code: "custom", message: why });
  });

/**
 * Why `host` is the platform's own (`<domain>` or under it: apps' and previews' hosts), or
 * null: those hosts belong to the platform's apps and its default certificate.
 */
export function platformDomainProblem(host: string, domain: string): string | null {
  if (host !== domain && !host.endsWith(`.${domain}`)) return null;
  return `${host} is in the platform's own domain (*.${domain}), where apps answer at <app>.${domain} already: add a domain of your own`;
}
