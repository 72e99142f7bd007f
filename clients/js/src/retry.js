// When to try a failed request again: exponential backoff with full jitter,
// never sooner than the server's Retry-After.

/** Longest Retry-After waited out, in milliseconds; a server asking for more is given up on. */
export const MAX_RETRY_AFTER_MS = 5 * 60 * 1000;

/** Statuses worth trying again: timeouts, limits and a server that does not answer now. */
export function isTransientStatus(status) {
  return status === 408 || status === 429 || status === 502 || status === 503 || status === 504;
}

/**
 * The pause in milliseconds before the next attempt after `failures` failures
 * in a row (from 1), or null when the attempts are used up.
 * @param {{baseMs: number, capMs: number, attempts: number}} policy
 * @param {number} failures
 * @param {number} draw a uniform random number in [0, 1)
 * @param {number|null} retryAfterMs the server's Retry-After, if any
 */
export function pauseBefore(policy, failures, draw, retryAfterMs = null) {
  if (failures < 1 || failures >= policy.attempts) return null;
  if (retryAfterMs !== null && retryAfterMs > MAX_RETRY_AFTER_MS) return null;
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** (failures - 1));
  const pause = ceiling * Math.min(Math.max(draw, 0), 1);
  return retryAfterMs === null ? pause : Math.max(pause, retryAfterMs);
}

/** Retry-After in milliseconds (seconds or an HTTP date), or null. */
export function parseRetryAfter(value, now = Date.now()) {
  if (value === null || value === undefined || value === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** The default policy: pauses up to 200 ms doubling to 10 s, 8 attempts in all. */
export const DEFAULT_RETRY = Object.freeze({ baseMs: 200, capMs: 10_000, attempts: 8 });
