// Backoff sized so that two retries (the default) fit well inside the default
// 5 s deadline: at most 100 ms + 200 ms of waiting before the attempts' own
// time. Full jitter spreads out the retries of many concurrent requests.
export const BACKOFF_BASE_MS = 100
export const BACKOFF_CAP_MS = 1000

/** Full-jitter exponential backoff for the retry after attempt number `attempt` (0-based). */
export function backoffMs (attempt: number, random: () => number): number {
  return Math.floor(random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt))
}

// RFC 9110 §5.6.7's three forms, all in GMT: IMF-fixdate (Sun, 06 Nov 1994
// 08:49:37 GMT), the obsolete RFC 850 form (Sunday, 06-Nov-94 08:49:37 GMT),
// and asctime (Sun Nov  6 08:49:37 1994), which names no zone. Date.parse
// alone would read asctime in this server's zone, and guess at anything else
// ('Mon 5' as now, '-5' or '1.5' as days in 2001).
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)'
const TIME = '\\d{2}:\\d{2}:\\d{2}'
const GMT_DATE = new RegExp(`^(?:${DAY}, \\d{2} ${MONTH} \\d{4}|${DAY}[a-z]{3,6}, \\d{2}-${MONTH}-\\d{2}) ${TIME} GMT$`)
const ASCTIME = new RegExp(`^${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4}$`)

/** An HTTP date (RFC 9110 §5.6.7) in epoch ms; NaN when it is none. */
export function parseHttpDate (text: string): number {
  if (GMT_DATE.test(text)) return Date.parse(text)
  return ASCTIME.test(text) ? Date.parse(`${text} GMT`) : Number.NaN
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfterMs (value: string | string[] | undefined, now: number): number | undefined {
  if (typeof value !== 'string') return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const date = parseHttpDate(text)
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
