import type { PaymentLinkResponse } from '../kopokopo/schemas.js'
import type { LinkState, PaymentLink } from './schema.js'

/**
 * Turns Kopo Kopo's answer into the public DTO. Only the listed fields are
 * copied: metadata, callback and self URLs, initiator names and phone numbers
 * never leave the service.
 */
export function toPaymentLink (response: PaymentLinkResponse, linkBaseUrl: string, now: number): PaymentLink {
  const { id, attributes: a } = response.data
  const link = a.payment_link ?? {}
  const linkStatus = stringOrNull(link.payment_link_status) ?? stringOrNull(link.status)
  const expiresAt = stringOrNull(link.expires_at)
  return {
    id: id.toLowerCase(),
    state: deriveState(a.status, linkStatus, expiresAt, now),
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
}

const stringOrNull = (value: unknown): string | null => typeof value === 'string' ? value : null

/** A descriptive field as text: numbers and booleans written out, anything else (an object, null) none. */
function text (value: unknown): string | null {
  if (typeof value === 'number') return decimal(value)
  return typeof value === 'string' || typeof value === 'boolean' ? String(value) : null
}

/** A number in plain decimal digits: String() writes 1e21 and 1e-7 in exponent form. */
function decimal (value: number): string {
  const written = String(value)
  return written.includes('e') && Number.isFinite(value)
    ? value.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 })
    : written
}

export function deriveState (status: string, linkStatus: string | null, expiresAt: string | null, now: number): LinkState {
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
      const expiry = expiresAt === null ? Number.NaN : Date.parse(expiresAt)
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
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text
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
