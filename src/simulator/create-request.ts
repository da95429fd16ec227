import Type from 'typebox'
import { Compile } from 'typebox/compile'
import { ApiError } from './errors.js'
import type { NewLinkInput } from './links.js'

// The create call as Kopo Kopo documents it. Amounts come as numbers or as
// numeric strings; the pattern's lookahead rejects an all-zero string.
const CreatePaymentLinkBody = Type.Object({
  amount: Type.Union([
    Type.Number({ exclusiveMinimum: 0 }),
    Type.String({ pattern: '^(?=.*[1-9])[0-9]+(\\.[0-9]+)?$' })
  ]),
  currency: Type.Literal('KES'),
  till_number: Type.Union([Type.String({ minLength: 1 }), Type.Integer({ minimum: 0 })]),
  payment_reference: Type.Optional(Type.String()),
  note: Type.Optional(Type.String()),
  metadata: Type.Optional(Type.Record(Type.String(), Type.String(), { maxProperties: 5 })),
  _links: Type.Object({ callback_url: Type.String({ minLength: 1 }) })
})

const checkBody = Compile(CreatePaymentLinkBody)

// One sentence per field, in Kopo Kopo's error_message style, rather than the
// validator's JSON-pointer wording. The first failing field in this order wins.
const messages: Record<string, string> = {
  amount: 'amount must be a positive number',
  currency: 'currency must be KES',
  till_number: 'till_number is required',
  payment_reference: 'payment_reference must be a string',
  note: 'note must be a string',
  metadata: 'metadata must be at most 5 key-value pairs of strings',
  _links: '_links.callback_url is required'
}

export function parseCreateRequest (body: unknown): NewLinkInput {
  if (!checkBody.Check(body)) throw new ApiError(400, describeFirstError(body))
  return {
    amount: body.amount,
    currency: body.currency,
    tillNumber: String(body.till_number),
    paymentReference: body.payment_reference ?? null,
    note: body.note ?? null,
    metadata: body.metadata ?? null,
    callbackUrl: body._links.callback_url
  }
}

function describeFirstError (body: unknown): string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return 'Request body must be a JSON object'
  }
  const failing = new Set<string>()
  for (const error of checkBody.Errors(body)) {
    const missing = error.keyword === 'required' ? (error.params as { requiredProperties: string[] }).requiredProperties : ['']
    for (const name of missing) failing.add(`${error.instancePath}/${name}`.split('/')[1] ?? '')
  }
  const field = Object.keys(messages).find((name) => failing.has(name))
  return field === undefined ? 'Invalid payment link request' : messages[field]!
}
