import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { matchesEtag, matchesStrongly } from '../etag.js'
import { MAX_URL_LENGTH, PreconditionFailedError } from '../errors.js'
import { headerDoc as header, problemResponses, REQUEST_ID_HEADER, VARY_HEADER } from '../problem.js'
import { PaymentLinkParams } from './schema.js'
import type { LinkAnswer, PaymentLinkService } from './service.js'

export const PAYMENT_LINK_ROUTE = '/payment-links/:id'
export const JSON_MEDIA_TYPE = 'application/json; charset=utf-8'

/** How long a client may keep an answer: only it, for the seconds the answer stays fresh here. */
export function cacheControl (maxAge: number): string {
  return `private, max-age=${maxAge}`
}

const COMMON_HEADERS = {
  'X-Request-Id': REQUEST_ID_HEADER,
  'Cache-Status': header('RFC 9211 cache status: `k2-bff; hit; ttl=2`, `k2-bff; fwd=miss; stored`, ' +
    '`k2-bff; fwd=miss; collapsed`, `k2-bff; fwd=stale; ttl=-4; fwd-status=503` (served while Kopo Kopo fails, ' +
    'or `detail=circuit-open` when no call went out), ' +
    '`k2-bff; fwd=miss; fwd-status=503`...')
}
const RATE_LIMIT_HEADERS = {
  'X-RateLimit-Limit': header('Requests allowed per window for this client.'),
  'X-RateLimit-Remaining': header('Requests left in the current window.'),
  'X-RateLimit-Reset': header('Seconds until the window resets.')
}
const RETRY_AFTER = { 'Retry-After': header('Seconds to wait before trying again.') }
const VARY = { Vary: VARY_HEADER }
const VALIDATORS = {
  ETag: header('Validator of this answer.'),
  'Cache-Control': header('`private, max-age=<seconds this answer stays fresh>`.')
}
// Every answer counts against the client's budget, refusals included, except
// those made before the rate limit runs: a body, an overlong URL, a missing,
// repeated or malformed Host (a 400 for a bad id does count).
const BUDGETED = { ...COMMON_HEADERS, ...RATE_LIMIT_HEADERS, ...VARY }

export const paymentLinkRouteSchema = {
  summary: 'Status of a payment link',
  description: 'Whether a Kopo Kopo payment link is still payable, paid, expired or cancelled. Answers are ' +
    'cached briefly (final states longer) and carry an ETag: send it back as If-None-Match to get a 304, or as ' +
    'If-Match to get a 412 instead of the answer once the link has changed.',
  operationId: 'getPaymentLink',
  tags: ['payment-links'],
  params: PaymentLinkParams,
  headers: Type.Object({
    'if-none-match': Type.Optional(Type.String({ description: 'An ETag from an earlier answer.' })),
    'if-match': Type.Optional(Type.String({
      description: 'ETags (or `*`): answer 200 only while the link\'s current ETag is one of them, else 412. Weak tags never match.'
    })),
    'x-request-id': Type.Optional(Type.String({ description: 'Your id for this request (`^[A-Za-z0-9._:-]{1,128}$`), echoed back.' }))
  }),
  response: {
    200: {
      description: 'The link\'s current status.',
      headers: { ...BUDGETED, ...VALIDATORS },
      content: { 'application/json': { schema: Type.Ref('PaymentLink') } }
    },
    304: { description: 'Not modified: the ETag sent in If-None-Match is still current.', type: 'null', headers: { ...BUDGETED, ...VALIDATORS } },
    ...problemResponses({
      400: { description: 'The id is not a UUID, the request has a body (the connection is then closed), or the Host header is missing (HTTP/1.1), repeated or not a host and port.', headers: BUDGETED },
      401: {
        description: 'An API key is required and was missing or wrong (only when the service has API keys configured).',
        headers: { ...BUDGETED, 'WWW-Authenticate': header('`Bearer realm="k2-payment-links-bff"`, followed by `, error="invalid_token"` when a key was sent and is not valid.') }
      },
      404: { description: 'Kopo Kopo has no payment link with this id.', headers: BUDGETED },
      412: { description: 'If-Match was sent and the link\'s current ETag is not in it (the link has changed, or the tags were never its).', headers: BUDGETED },
      408: { description: 'The request\'s header block took longer to arrive than the HTTP server waits (60 s).', headers: { 'X-Request-Id': REQUEST_ID_HEADER } },
      414: {
        description: `The URL is over ${MAX_URL_LENGTH} characters (one over about 16 KiB is refused by the HTTP parser with a 431).`,
        headers: { ...COMMON_HEADERS, ...VARY }
      },
      429: { description: 'Too many requests from this client.', headers: { ...BUDGETED, ...RETRY_AFTER } },
      431: { description: 'The request\'s header block (URL included) is over the HTTP parser\'s limit.', headers: { 'X-Request-Id': REQUEST_ID_HEADER } },
      502: {
        description: 'No usable answer from Kopo Kopo: a 5xx after retries, an unexpected 4xx, a malformed or oversized answer, ' +
          'the service\'s credentials rejected, or Kopo Kopo unreachable.',
        headers: BUDGETED
      },
      503: { description: 'Kopo Kopo is unavailable or throttling, or every connection to it is busy for longer than the request could wait, and no recent answer is cached.', headers: { ...BUDGETED, ...RETRY_AFTER } },
      504: { description: 'Kopo Kopo did not answer in time, or no connection to it came free in time.', headers: BUDGETED }
    })
  }
}

const paymentLinkRoutes: FastifyPluginAsyncTypebox<{ service: PaymentLinkService }> = async (app, { service }) => {
  const options = {
    schema: paymentLinkRouteSchema,
    ...(app.requireApiKey === undefined ? {} : { preHandler: app.requireApiKey })
  }
  // HEAD is its own route rather than Fastify's exposed one, which sets
  // `Content-Length: 0` on a 304 (RFC 9110 §8.6: only the 200's length may be
  // sent there). Declared as HEAD, the API document leaves it out, as before.
  for (const method of ['GET', 'HEAD'] as const) {
    app.route({
      method,
      url: PAYMENT_LINK_ROUTE,
      ...options,
      exposeHeadRoute: false,
      handler: (request, reply) => {
        // Not an async function: a cache hit is answered without a promise.
        const answer = service.get(request.params.id.toLowerCase())
        return answer instanceof Promise ? answer.then(a => respondAfterWait(request, reply, a)) : respond(request, reply, answer)
      }
    })
  }
}

/** After waiting on Kopo Kopo, the client may be gone: no answer reaches it, but the access log hears of it. */
function respondAfterWait (request: FastifyRequest, reply: FastifyReply, answer: LinkAnswer): FastifyReply {
  // Read before answering, which may end the response itself.
  const abandoned = reply.raw.destroyed
  try {
    return respond(request, reply, answer)
  } finally {
    if (abandoned) request.server.logAbandoned(request, reply)
  }
}

function respond (request: FastifyRequest, reply: FastifyReply, answer: LinkAnswer): FastifyReply {
  reply.header('cache-status', answer.cacheStatus)
  request.upstream = answer.upstream ?? null
  if ('error' in answer) throw answer.error
  // RFC 9110 §13.2.2: If-Match first, and only for an answer that would be a
  // 200 (a 404 or an outage stays what it is), then If-None-Match.
  const ifMatch = request.headers['if-match']
  if (ifMatch !== undefined && !matchesStrongly(ifMatch, answer.entry.etag)) throw new PreconditionFailedError()
  reply
    .header('etag', answer.entry.etag)
    .header('cache-control', cacheControl(answer.maxAge))
  if (matchesEtag(request.headers['if-none-match'], answer.entry.etag)) return reply.code(304).send()
  return reply.type(JSON_MEDIA_TYPE).send(answer.entry.body)
}

export default paymentLinkRoutes
