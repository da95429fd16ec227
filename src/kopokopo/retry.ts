// Backoff sized so that two retries (the default) fit well inside the default
// 5 s deadline: at most 100 ms + 200 ms of waiting before the attempts' own
// time. Full jitter spreads out the retries of many concurrent requests.
export const BACKOFF_BASE_MS = 100
export const BACKOFF_CAP_MS = 1000

/** Full-jitter exponential backoff for the retry after attempt number `attempt` (0-based). */
export function backoffMs (attempt: number, random: () => number): number {
  return Math.floor(random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt))
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfterMs (value: string | string[] | undefined, now: number): number | undefined {
  if (typeof value !== 'string') return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const date = Date.parse(text)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}
