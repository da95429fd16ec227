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
  // Every HTTP-date form begins with a day name; Date.parse alone would read
  // '-5' or '1.5' as days in 2001, that is as "now".
  if (!/^[A-Za-z]{3}/.test(text)) return undefined
  const date = Date.parse(text)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}

// What a client is told to wait, in whole seconds. Never 0: a page that
// honours it would come straight back while Kopo Kopo is still refusing.
// Never more than a minute: Kopo Kopo's own value (which may be any number,
// or a date years away) would otherwise stop every checkout page's polling
// for as long, while the service itself calls again as soon as asked.
export const MAX_CLIENT_RETRY_AFTER_S = 60

/** A wait in ms as a client's Retry-After: whole seconds, 1 to 60. */
export function clientRetryAfterS (waitMs: number): number {
  return Math.min(MAX_CLIENT_RETRY_AFTER_S, Math.max(1, Math.ceil(waitMs / 1000)))
}
