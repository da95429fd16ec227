import Type, { type Static } from 'typebox'
import { AppError, PROBLEM_CODES, PROBLEM_TYPE_PREFIX, problemName, problemType } from './errors.js'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

// RFC 9457 problem details, with the request id as an extension member so a
// caller can quote it to support.
export const Problem = Type.Object({
  type: Type.String({
    description: `A URI naming the kind of problem, stable across releases: \`${PROBLEM_TYPE_PREFIX}\` then ` +
      `${PROBLEM_CODES.map(code => `\`${problemName(code)}\``).join(', ')}; \`http-<status>\` for a request the ` +
      'HTTP layer refused or could not read (`http-400`, `http-431`...); `internal` for an unexpected error.'
  }),
  title: Type.String({ description: 'Short summary of the kind of problem.' }),
  status: Type.Integer({ description: 'The HTTP status code.' }),
  detail: Type.String({ description: 'What went wrong with this request, for a human.' }),
  requestId: Type.String({ description: 'The X-Request-Id of this request.' })
}, {
  $id: 'Problem',
  description: 'An RFC 9457 problem details document.',
  examples: [{
    type: 'urn:k2-bff:problem:link-not-found',
    title: 'Payment link not found',
    status: 404,
    detail: 'Kopo Kopo has no payment link with id 9d2c4f7e-1b0a-4c55-9a43-0d1f2e3a4b5c.',
    requestId: 'checkout-7f3a'
  }]
})
export type Problem = Static<typeof Problem>

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request',
  401: 'Unauthorized',
  404: 'Not found',
  405: 'Method not allowed',
  413: 'Request body too large',
  414: 'URI too long',
  415: 'Unsupported media type',
  429: 'Too many requests',
  431: 'Request header fields too large',
  500: 'Internal server error',
  502: 'Kopo Kopo answered wrongly',
  503: 'Service unavailable',
  504: 'Kopo Kopo did not answer in time'
}

/**
 * The problem document for any error. Our own AppErrors say what happened; any
 * other 4xx (Fastify's own: bad media type, body too large) keeps its message;
 * anything else is a bug, and its details stay in the log.
 */
export function toProblem (err: unknown, requestId: string): Problem {
  if (err instanceof AppError) {
    return { type: err.type, title: err.title, status: err.statusCode, detail: err.detail, requestId }
  }
  const status = statusOf(err)
  const title = STATUS_TEXT[status] ?? 'Request failed'
  const detail = status < 500 && err instanceof Error ? err.message : 'An unexpected error occurred; it has been logged.'
  return { type: status < 500 ? problemType(`http-${status}`) : problemType('internal'), title, status, detail, requestId }
}

export function statusOf (err: unknown): number {
  const status = (err as { statusCode?: unknown }).statusCode
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : 500
}

export interface ResponseDoc {
  description: string
  headers?: Record<string, ReturnType<typeof headerDoc>>
}

/** An OpenAPI response header: all of ours are strings. */
export const headerDoc = (description: string) => ({ type: 'string' as const, description })

/** On every answer of the service. */
export const REQUEST_ID_HEADER = headerDoc('The caller\'s X-Request-Id when well-formed, else a generated one.')

/** On every answer once API keys or CORS for named origins are on, the health probes' included. */
export const VARY_HEADER = headerDoc('The request headers this answer depends on: `Authorization, X-API-Key` when API keys are on, ' +
  '`Origin` when CORS names origins (not with `*`, whose grant is the same for every origin).')

/** Every problem answer's caching directive (set by the error handler). */
export const PROBLEM_CACHE_CONTROL = 'no-store'

/** Response schemas for a route's error statuses: they drive serialization and the OpenAPI document. */
export function problemResponses (statuses: Record<number, ResponseDoc>) {
  return Object.fromEntries(Object.entries(statuses).map(([status, doc]) => [status, {
    ...doc,
    headers: {
      ...doc.headers,
      'Cache-Control': headerDoc(`\`${PROBLEM_CACHE_CONTROL}\`: an error is never to be reused by any cache.`)
    },
    content: { [PROBLEM_CONTENT_TYPE]: { schema: Type.Ref('Problem') } }
  }]))
}
