import Type, { type Static } from 'typebox'

// The public contract of GET /payment-links/:id, written once: Fastify
// validates with it, TypeScript types come from it, and the OpenAPI document
// is generated from it.

export const LINK_STATES = ['pending', 'active', 'paid', 'expired', 'cancelled', 'failed', 'unknown'] as const
export const FINAL_STATES: ReadonlySet<LinkState> = new Set(['paid', 'expired', 'cancelled', 'failed'])

const NullableString = (description: string) => Type.Union([Type.String(), Type.Null()], { description })

export const LinkState = Type.Enum(LINK_STATES, {
  description: 'What the link means for a checkout: `active` can be paid; `paid`, `expired`, `cancelled` and ' +
    '`failed` are final; `pending` is still being set up by Kopo Kopo; `unknown` is a status this service does not know yet.'
})
export type LinkState = Static<typeof LinkState>

export const PaymentLink = Type.Object({
  id: Type.String({ format: 'uuid', description: 'The payment link id, lowercase.' }),
  state: LinkState,
  status: Type.String({ description: 'Kopo Kopo\'s processing status of the link request, raw (`Pending`, `Processed`, `Failed`).' }),
  linkStatus: NullableString('Kopo Kopo\'s lifecycle status of the link, raw (`Active`, `Paid`, `Expired`, `Cancelled`).'),
  amount: Type.String({ description: 'The amount as a decimal string.', examples: ['20000'] }),
  currency: Type.String({ description: 'ISO 4217 currency code.', examples: ['KES'] }),
  reference: NullableString('The merchant\'s payment reference.'),
  note: NullableString('The note shown to the payer.'),
  tillName: NullableString('Name of the till receiving the payment.'),
  tillNumber: NullableString('Number of the till receiving the payment.'),
  createdAt: Type.String({ description: 'When the link was created (ISO 8601, as Kopo Kopo sent it).' }),
  expiresAt: NullableString('When the link stops accepting payments (ISO 8601, as Kopo Kopo sent it).'),
  url: NullableString('Absolute URL of the payment page to send the payer to.'),
  error: NullableString('Why Kopo Kopo failed the link, as one readable string.')
}, {
  $id: 'PaymentLink',
  additionalProperties: false,
  description: 'The status of one payment link.',
  examples: [{
    id: '22222222-2222-4222-8222-222222222222',
    state: 'active',
    status: 'Processed',
    linkStatus: 'Active',
    amount: '20000',
    currency: 'KES',
    reference: 'SIM-ACTIVE-0001',
    note: 'Payment for TV sold',
    tillName: 'Simulated Shop',
    tillNumber: '000000',
    createdAt: '2026-11-28T12:04:35.444+03:00',
    expiresAt: '2026-12-05T12:04:35.476+03:00',
    url: 'https://sandbox.kopokopo.com/links/691628ee-3fcf-4e4e-a1d6-700cb7ec7f60',
    error: null
  }]
})
export type PaymentLink = Static<typeof PaymentLink>

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'

export const PaymentLinkParams = Type.Object({
  id: Type.String({ pattern: UUID_PATTERN, description: 'The payment link id (a UUID, any case).' })
})
