import { randomUUID } from 'node:crypto'

export const MINUTE = 60_000
export const HOUR = 60 * MINUTE
export const DAY = 24 * HOUR
// Kopo Kopo's documented default lifetime of a payment link.
export const LINK_LIFETIME_MS = 7 * DAY
// Kopo Kopo reports times in Nairobi time, which has no daylight saving.
const NAIROBI_OFFSET_MS = 3 * HOUR

export interface StoredLifecycle {
  // GET answers name the field payment_link_status; the paid callback names it
  // status. Seeds use both so the service is exercised against either.
  field: 'payment_link_status' | 'status'
  state: string
  expiresAt: number
  initiatorName: string
  path: string
  // Kopo Kopo's own documents show the link both relative and absolute.
  absolute: boolean
}

export interface StoredLink {
  id: string
  status: 'Pending' | 'Processed' | 'Failed'
  createdAt: number
  tillName: string
  tillNumber: string
  paymentReference: string | null
  currency: string
  amount: string | number
  note: string | null
  paymentLink: StoredLifecycle | null
  errors: unknown
  metadata: Record<string, unknown> | null
  callbackUrl: string
}

export interface NewLinkInput {
  amount: string | number
  currency: string
  tillNumber: string
  paymentReference: string | null
  note: string | null
  metadata: Record<string, unknown> | null
  callbackUrl: string
}

export function nairobiIso (ms: number): string {
  return new Date(ms + NAIROBI_OFFSET_MS).toISOString().replace('Z', '+03:00')
}

export function newLink (input: NewLinkInput, now: number): StoredLink {
  return {
    id: randomUUID(),
    status: 'Processed',
    createdAt: now,
    tillName: 'Simulated Shop',
    tillNumber: input.tillNumber,
    paymentReference: input.paymentReference,
    currency: input.currency,
    // Kopo Kopo answers with the amount as a string whatever was sent.
    amount: String(input.amount),
    note: input.note,
    paymentLink: {
      field: 'payment_link_status',
      state: 'Active',
      expiresAt: now + LINK_LIFETIME_MS,
      initiatorName: 'Simulated Initiator',
      path: `/links/${randomUUID()}`,
      absolute: false
    },
    errors: null,
    metadata: input.metadata,
    callbackUrl: input.callbackUrl
  }
}

// Cancels the link, or says why it cannot: only a processed link that is
// still active and not yet past its expiry can be cancelled.
export function cancelLink (link: StoredLink, now: number): string | undefined {
  const lifecycle = link.paymentLink
  if (link.status !== 'Processed' || lifecycle === null) {
    return `Payment link cannot be cancelled: its status is ${link.status}.`
  }
  if (lifecycle.state.toLowerCase() !== 'active') {
    return `Payment link cannot be cancelled: it is ${lifecycle.state}.`
  }
  if (lifecycle.expiresAt <= now) {
    return 'Payment link cannot be cancelled: it has expired.'
  }
  lifecycle.state = 'Cancelled'
  return undefined
}

// The GET answer, in the documented shape and key order. `origin` is the
// simulator's URL as the caller reached it, for `self` and absolute links.
export function renderPaymentLink (link: StoredLink, origin: string) {
  const lifecycle = link.paymentLink
  return {
    data: {
      id: link.id,
      type: 'payment_link',
      attributes: {
        status: link.status,
        created_at: nairobiIso(link.createdAt),
        till_name: link.tillName,
        till_number: link.tillNumber,
        payment_reference: link.paymentReference,
        currency: link.currency,
        amount: link.amount,
        note: link.note,
        payment_link: lifecycle === null
          ? null
          : {
              [lifecycle.field]: lifecycle.state,
              expires_at: nairobiIso(lifecycle.expiresAt),
              initiator_name: lifecycle.initiatorName,
              link: lifecycle.absolute ? `${origin}${lifecycle.path}` : lifecycle.path
            },
        errors: link.errors,
        metadata: link.metadata,
        _links: {
          callback_url: link.callbackUrl,
          self: `${origin}/api/v2/payment_links/${link.id}`
        }
      }
    }
  }
}
