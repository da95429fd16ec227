import { DAY, HOUR, LINK_LIFETIME_MS, MINUTE, type StoredLifecycle, type StoredLink } from './links.js'

// Obviously fake credentials, for when no real ones are configured.
export const SIMULATOR_CREDENTIALS = {
  clientId: 'simulator-client-id',
  clientSecret: 'simulator-client-secret'
} as const

// One seeded payment link per state. The ids are fixed because the README's
// curl examples use them.
export const SEED_IDS = {
  pending: '11111111-1111-4111-8111-111111111111',
  active: '22222222-2222-4222-8222-222222222222',
  paid: '33333333-3333-4333-8333-333333333333',
  expired: '44444444-4444-4444-8444-444444444444',
  cancelled: '55555555-5555-4555-8555-555555555555',
  failed: '66666666-6666-4666-8666-666666666666',
  activeButExpired: '77777777-7777-4777-8777-777777777777'
} as const

export type SeedName = keyof typeof SEED_IDS
export type SeedIds = typeof SEED_IDS

export const SEED_CALLBACK_URL = 'https://example.com/simulator/callback'

const references: Record<SeedName, string> = {
  pending: 'SIM-PENDING-0001',
  active: 'SIM-ACTIVE-0001',
  paid: 'SIM-PAID-0001',
  expired: 'SIM-EXPIRED-0001',
  cancelled: 'SIM-CANCELLED-0001',
  failed: 'SIM-FAILED-0001',
  activeButExpired: 'SIM-ACTIVE-BUT-EXPIRED-0001'
}

// The documented shape variants are spread across the seeds on purpose:
// amount as a string and as a number, the link relative and absolute, the
// lifecycle under payment_link_status and under status, errors null and a
// string, and a lowercase "active" that has expired.
export function seedLinks (now: number): StoredLink[] {
  return [
    seed('pending', now - 5 * MINUTE, { status: 'Pending', amount: 1500.5 }, { state: 'Active' }),
    seed('active', now, {}, { state: 'Active', absolute: true }),
    seed('paid', now - 2 * HOUR, {}, { field: 'status', state: 'Paid' }),
    seed('expired', now - 10 * DAY, {}, { state: 'Expired' }),
    seed('cancelled', now - DAY, { amount: 1000 }, { state: 'Cancelled' }),
    // The request failed before a link existed, so there is no payment_link.
    seed('failed', now - 10 * MINUTE, { status: 'Failed', errors: 'Till is not active' }, null),
    seed('activeButExpired', now - LINK_LIFETIME_MS - DAY, {}, { state: 'active' })
  ]
}

function seed (
  name: SeedName,
  createdAt: number,
  overrides: Partial<StoredLink>,
  lifecycle: Partial<StoredLifecycle> | null
): StoredLink {
  const id = SEED_IDS[name]
  return {
    id,
    status: 'Processed',
    createdAt,
    tillName: 'Simulated Shop',
    tillNumber: '000000',
    paymentReference: references[name],
    currency: 'KES',
    amount: '20000',
    note: `Simulated ${name} payment link`,
    paymentLink: lifecycle === null
      ? null
      : {
          field: 'payment_link_status',
          state: 'Active',
          expiresAt: createdAt + LINK_LIFETIME_MS,
          initiatorName: 'Simulated Initiator',
          // A link id distinct from the resource id, as in Kopo Kopo's example.
          path: `/links/aaaaaaaa${id.slice(8)}`,
          absolute: false,
          ...lifecycle
        },
    errors: null,
    metadata: { order_id: references[name].replace('SIM-', 'SIM-ORDER-') },
    callbackUrl: SEED_CALLBACK_URL,
    ...overrides
  }
}
