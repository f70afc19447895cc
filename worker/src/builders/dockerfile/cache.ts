/**
 * Names of the Dockerfile layer cache, shared by the builder (which makes and labels it) and
 * image retention (jobs/images.ts, which keeps what kept images were built from).
 */

/** Label of a Dockerfile build's final image: the cache keys (space-separated) its build used or made. */
export const CACHE_KEYS_LABEL = "paas.dockerfile-cache";

/** The cache image of one step of `app`'s Dockerfile builds. */
export const dfCacheName = (app: string, key: string) => `cache/${app}/df:${key}`;
