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
  const linkStatus = link.payment_link_status ?? link.status ?? null
  const expiresAt = link.expires_at ?? null
  return {
    id: id.toLowerCase(),
    state: deriveState(a.status, linkStatus, expiresAt, now),
    status: a.status,
    linkStatus,
    amount: String(a.amount),
    currency: a.currency,
    reference: a.payment_reference ?? null,
    note: a.note ?? null,
    tillName: a.till_name ?? null,
    tillNumber: a.till_number == null ? null : String(a.till_number),
    createdAt: a.created_at,
    expiresAt,
    url: absoluteUrl(link.link ?? null, linkBaseUrl),
    error: flattenErrors(a.errors)
  }
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
