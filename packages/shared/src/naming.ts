/** Naming rules for apps and teams: one definition used by every entry point. */
import { z } from "zod";

export const appName = z
  .string()
  .min(2, "app names have at least 2 characters")
  .max(30, "app names have at most 30 characters")
  .regex(
    /^[a-z][a-z0-9-]*[a-z0-9]$/,
    "app names use lowercase letters, digits and dashes, start with a letter and do not end with a dash",
  );

export const teamName = appName.describe("team name");
