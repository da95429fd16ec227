import type { PaymentLinkResponse } from '../kopokopo/schemas.js'
import type { LinkState, PaymentLink } from './schema.js'

/** How long a link lasts when its creator sets no expiry: Kopo Kopo's published default. */
export const DEFAULT_LINK_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000

export interface MappedLink {
  link: PaymentLink
  /** When the link stops taking payments, in epoch ms (see linkExpiry); NaN when that cannot be told. */
  expiry: number
}

/**
 * Turns Kopo Kopo's answer into the public DTO. Only the listed fields are
 * copied: metadata, callback and self URLs, initiator names and phone numbers
 * never leave the service.
 */
export function toPaymentLink (response: PaymentLinkResponse, linkBaseUrl: string, now: number): MappedLink {
  const { id, attributes: a } = response.data
  // Its container too: one of another shape (a bare URL, a list) holds no status, expiry or page.
  const link: Record<string, unknown> = isRecord(a.payment_link) ? a.payment_link : {}
  const linkStatus = stringOrNull(link.payment_link_status) ?? stringOrNull(link.status)
  const expiresAt = stringOrNull(link.expires_at)
  const expiry = linkExpiry(expiresAt, a.created_at)
  const dto: PaymentLink = {
    id: id.toLowerCase(),
    state: deriveState(a.status, linkStatus, expiry, now),
    status: a.status,
    linkStatus,
    amount: typeof a.amount === 'number' ? decimal(a.amount) : a.amount,
    currency: a.currency,
    reference: text(a.payment_reference),
    note: text(a.note),
    tillName: text(a.till_name),
    tillNumber: text(a.till_number),
    createdAt: a.created_at,
    expiresAt,
    url: absoluteUrl(stringOrNull(link.link), linkBaseUrl),
    error: flattenErrors(a.errors)
  }
  return { link: dto, expiry }
}

const stringOrNull = (value: unknown): string | null => typeof value === 'string' ? value : null

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** A descriptive field as text: numbers and booleans written out, anything else (an object, null) none. */
function text (value: unknown): string | null {
  if (typeof value === 'number') return decimal(value)
  return typeof value === 'string' || typeof value === 'boolean' ? String(value) : null
}

/**
 * A number in plain decimal digits: String() writes 1e21 and 1e-7 in exponent
 * form. Its shortest round-trip digits are kept, and only the point moves, so
 * no digit is rounded away or made up (as formatting to a fixed number of
 * fraction digits would, for 5e-324 or 1.23456789e-15).
 */
export function decimal (value: number): string {
  const written = String(value)
  const e = written.indexOf('e')
  if (e === -1) return written
  const sign = written.startsWith('-') ? '-' : ''
  const mantissa = written.slice(sign.length, e)
  const digits = mantissa.replace('.', '')
  // Where the point falls, counted in digits from the left.
  const point = (mantissa.includes('.') ? mantissa.indexOf('.') : mantissa.length) + Number(written.slice(e + 1))
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`
  return point >= digits.length ? `${sign}${digits}${'0'.repeat(point - digits.length)}` : `${sign}${digits.slice(0, point)}.${digits.slice(point)}`
}

// An ISO 8601 date and time with its offset, as Kopo Kopo writes them
// (2026-02-02T12:04:35.476+03:00). Anything else Date.parse would still guess
// at: "2" as the year 2001, "June 10" in 2001, 30 February as 2 March, and a
// time without an offset in this server's own zone.
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/

/** An instant Kopo Kopo wrote, in epoch ms; NaN when it is none or cannot be read (which counts as none). */
export function instantMs (written: string | null): number {
  const parts = written === null ? null : ISO_INSTANT.exec(written)
  if (parts === null) return Number.NaN
  const [text, year, month, day] = [parts[0], Number(parts[1]), Number(parts[2]), Number(parts[3])]
  // The calendar date must exist: Date.UTC rolls 30 February over into March.
  const date = new Date(Date.UTC(year, month - 1, day))
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return Number.NaN
  return Date.parse(text)
}

/**
 * When a link stops taking payments: its `expires_at`, or, when that is none
 * (or cannot be read), Kopo Kopo's default lifetime from its `created_at`. A
 * link Kopo Kopo still calls Active two months after it was made, with no
 * expiry, is not offered for payment. NaN when neither can be read.
 */
export function linkExpiry (expiresAt: string | null, createdAt: string): number {
  const given = instantMs(expiresAt)
  return Number.isNaN(given) ? instantMs(createdAt) + DEFAULT_LINK_LIFETIME_MS : given
}

export function deriveState (status: string, linkStatus: string | null, expiry: number, now: number): LinkState {
  switch (status.toLowerCase()) {
    case 'failed': return 'failed'
    case 'pending': return 'pending'
  }
  switch (linkStatus?.toLowerCase()) {
    case 'paid': return 'paid'
    case 'expired': return 'expired'
    case 'cancelled':
    case 'canceled': return 'cancelled'
    case 'active': {
      // Kopo Kopo keeps saying Active after expiry; such a link can no longer be paid.
      return expiry <= now ? 'expired' : 'active'
    }
    default: return 'unknown'
  }
}

function absoluteUrl (link: string | null, base: string): string | null {
  if (link === null || link === '') return null
  try {
    const url = new URL(link, base)
    // Only web links: a frontend may put this straight into an href.
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null
  } catch {
    return null
  }
}

// Kopo Kopo's `errors` has no published shape. What is flattened stays
// readable and bounded: a few levels deep (a deeper nesting would otherwise
// exhaust the stack) and a few lines long.
const MAX_ERROR_DEPTH = 8
export const MAX_ERROR_LENGTH = 1000

/** `errors` is published only as null; elsewhere it is a string, a list or an object. */
export function flattenErrors (errors: unknown): string | null {
  if (errors === null || errors === undefined) return null
  const text = flatten(errors, 0)
  if (text === '') return null
  if (text.length <= MAX_ERROR_LENGTH) return text
  // Not between the halves of a surrogate pair (an emoji): half a character is none.
  const high = text.charCodeAt(MAX_ERROR_LENGTH - 2)
  const cut = high >= 0xd800 && high <= 0xdbff ? MAX_ERROR_LENGTH - 2 : MAX_ERROR_LENGTH - 1
  return `${text.slice(0, cut)}…`
}

function flatten (value: unknown, depth: number): string {
  if (value === null || value === undefined || depth > MAX_ERROR_DEPTH) return ''
  if (Array.isArray(value)) return value.map(v => flatten(v, depth + 1)).filter(s => s !== '').join('; ')
  if (typeof value === 'object') {
    return Object.entries(value)
      .map(([key, v]) => {
        const text = flatten(v, depth + 1)
        return text === '' ? '' : `${key}: ${text}`
      })
      .filter(s => s !== '')
      .join('; ')
  }
  return String(value)
}
