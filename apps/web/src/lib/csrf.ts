/**
 * What the dashboard's own requests that change something carry (server/people/csrf.ts checks
 * it when a cookie came along): a JSON body and a header of ours. A form on another site can
 * send neither, and a script on one can send them only after a CORS preflight we never answer.
 */
export const CSRF_HEADER = "x-paas-csrf";
export const CSRF_HEADERS = { "content-type": "application/json", [CSRF_HEADER]: "1" } as const;
