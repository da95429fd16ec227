import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'

// What Kopo Kopo sends, as far as it publishes it. These schemas are lenient
// where its own documents disagree (amount as string or number, link status
// under two names, errors of any shape) and strict only about what the service
// needs in order to answer; everything else passes through unread.

export const TokenResponse = Type.Object({
  // RFC 6750's b64token: what may follow `Bearer ` in a header. Anything else
  // could never be sent (undici refuses it before any call), and would look
  // like Kopo Kopo being unreachable until the token was due for renewal.
  access_token: Type.String({ pattern: '^[A-Za-z0-9\\-._~+/]+=*$' }),
  // Unused: the service always sends Bearer.
  token_type: Type.Optional(Type.Unknown()),
  // Seconds, as a number or numeric text; RFC 6749 lets a server leave it out.
  // Read leniently (token-provider.ts): a token is usable whatever this says.
  expires_in: Type.Optional(Type.Unknown()),
  // An ISO string in some answers, a number in others; unused.
  created_at: Type.Optional(Type.Unknown())
})
export type TokenResponse = Static<typeof TokenResponse>

// Descriptive fields: read as text when they are a string, number or boolean,
// and as absent otherwise (payment-links/map.ts). A reference sent as a
// number must not turn a whole answer into a 502.
const Descriptive = Type.Optional(Type.Unknown())

export const PaymentLinkAttributes = Type.Object({
  status: Type.String(),
  created_at: Type.String(),
  till_name: Descriptive,
  till_number: Descriptive,
  payment_reference: Descriptive,
  currency: Type.String(),
  amount: Type.Union([Type.String(), Type.Number()]),
  note: Descriptive,
  // Link status, expiry and page. The container is read leniently too
  // (payment-links/map.ts): one of another shape holds none of them, and a
  // field in it that is not a string counts as none.
  payment_link: Descriptive,
  errors: Type.Optional(Type.Unknown())
})

export const PaymentLinkResponse = Type.Object({
  data: Type.Object({
    id: Type.String(),
    attributes: PaymentLinkAttributes
  })
})
export type PaymentLinkResponse = Static<typeof PaymentLinkResponse>

// Compiled once at import: checking an upstream answer is on every cache miss.
export const checkTokenResponse = Compile(TokenResponse)
export const checkPaymentLinkResponse = Compile(PaymentLinkResponse)

/** An upstream body as JSON, or undefined when it is not JSON; the schema checks say the rest. */
export function parseJson (body: Buffer): unknown {
  try {
    // A byte-order mark may lead a JSON text (RFC 8259 §8.1 lets a parser ignore it); JSON.parse would refuse it.
    const text = body.toString('utf8')
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  } catch {
    return undefined
  }
}

interface Checker { Errors: (value: unknown) => Array<{ instancePath: string, message: string }> }

/** Where an answer first departs from its schema (`/data/attributes/amount must be string`), for the log: names a field, never a value. */
export function mismatch (checker: Checker, value: unknown): string {
  const [error] = checker.Errors(value)
  return error === undefined ? 'unknown' : `${error.instancePath === '' ? '/' : error.instancePath} ${error.message}`
}

const MAX_MESSAGE_CHARS = 200

/**
 * What Kopo Kopo said in an error answer, for the log, as its API documents
 * them: `error_message`, else `error` and `error_description`. Only from JSON,
 * cut short, without control characters or `secrets`; never a raw (perhaps
 * HTML) body.
 */
export function upstreamMessage (body: Buffer, secrets: string[]): string | undefined {
  const parsed = parseJson(body) as Record<string, unknown> | undefined
  if (parsed === null || typeof parsed !== 'object') return undefined
  const said = [parsed.error_message ?? parsed.error, parsed.error_message === undefined ? parsed.error_description : undefined]
    .filter((part): part is string => typeof part === 'string' && part !== '')
  if (said.length === 0) return undefined
  // Should Kopo Kopo ever echo what it was sent, the credential it was sent stays out of the log.
  let text = said.join(': ')
  for (const secret of secrets) if (secret !== '') text = text.replaceAll(secret, '[redacted]')
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, MAX_MESSAGE_CHARS)
}
