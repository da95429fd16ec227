import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, InvalidIdError, logFields, MethodNotAllowedError, NotFoundError, UnauthorizedError } from '../errors.js'
import { shownPath, targetPath } from '../request-target.js'
import { PROBLEM_CACHE_CONTROL, PROBLEM_CONTENT_TYPE, statusOf, toProblem } from '../problem.js'
import { isRateLimitExempt } from './rate-limit.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Refuses a request no route takes, its budget taken first: a 405 with
     * Allow, or a 404. For the last onRequest hook, before Fastify judges a
     * body's Content-Type, which a request no route takes has no use for.
     */
    refuseUnrouted: (request: FastifyRequest, reply: FastifyReply) => Promise<never>
  }
}

const PAYMENT_LINK_PATH = /^\/payment-links\/[^/]*$/
// The methods a 405's Allow may list. OPTIONS is CORS's to answer, when it is on.
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']

/** Whether a request target names a payment link (any id, even a malformed one). */
export function isPaymentLinkPath (url: string): boolean {
  return PAYMENT_LINK_PATH.test(targetPath(url))
}
// Cache-Status of a payment-link request refused before the cache: a bad id or
// method, a body, no API key, the rate limit. Errors from the lookup itself
// carry their own (fwd=miss; fwd-status=502...).
const REJECTED_CACHE_STATUS = 'k2-bff; detail=rejected'

export const WWW_AUTHENTICATE = 'Bearer realm="k2-payment-links-bff"'

/**
 * The one place where errors become answers: RFC 9457 problem+json, with the
 * headers the error implies. Our own 5xx say what failed upstream without its
 * body; anything unexpected is logged with its stack and answered blandly.
 */
export default fp(async function errorsPlugin (app: FastifyInstance, options: { sendProblem: ProblemSender }) {
  app.setErrorHandler(options.sendProblem)

  // "Wrong method" (405) or "no such thing" (404): the router itself says
  // which methods the path has routes for, so every route counts, the API
  // document's viewer's included, without a second list of them to keep.
  function refusal (request: FastifyRequest): AppError {
    const url = targetPath(request.url)
    const allow = METHODS.filter(method => app.findRoute({ method, url }) !== null)
    if (allow.length > 0 && !allow.includes(request.method)) return new MethodNotAllowedError(request.method, allow.join(', '))
    // A HEAD answer carries the GET's Content-Length, so the problem it leaves
    // out must be the GET's, byte for byte.
    return new NotFoundError(request.method === 'HEAD' ? 'GET' : request.method, shownPath(request.url))
  }
  // Counted against the caller's budget as a route's answer is, except on the
  // paths that are exempt from it (probes, the API document and its viewer).
  const limit = app.rateLimit()
  async function count (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!isRateLimitExempt(request.url)) await limit.call(app, request, reply)
  }
  app.decorate('refuseUnrouted', async (request: FastifyRequest, reply: FastifyReply): Promise<never> => {
    await count(request, reply)
    throw refusal(request)
  })
  // What a route sends here itself (the viewer's assets, for a file it does
  // not have) means no such thing.
  app.setNotFoundHandler({ preHandler: count }, (request) => { throw refusal(request) })
}, { name: 'errors', dependencies: ['@fastify/rate-limit'] })

export type ProblemSender = (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => FastifyReply

/**
 * Answers any error as problem+json; also used for errors the router raises
 * before any hook. An error raised in an early hook, or by the router, never
 * ran the hook that sets the security headers: it gets the API's set here
 * (the docs pages' errors keep theirs).
 */
export function problemSender (securityHeaders: Record<string, string>): ProblemSender {
  return (err, request, reply) =>
    sendProblem(err, request, reply.hasHeader('content-security-policy') ? reply : reply.headers(securityHeaders))
}

function sendProblem (err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const error = err.validation !== undefined && err.validationContext === 'params'
    ? new InvalidIdError()
    : err
  const status = statusOf(error)
  if (!(error instanceof AppError) && status >= 500) {
    request.log.error({ err: error }, 'unexpected error')
  } else if (status >= 500) {
    request.log.warn(logFields(error), error.message)
  }
  if (error instanceof AppError && error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter))
  if (error instanceof MethodNotAllowedError) reply.header('allow', error.allow)
  if (error instanceof UnauthorizedError) {
    reply.header('www-authenticate', error.keyRejected ? `${WWW_AUTHENTICATE}, error="invalid_token"` : WWW_AUTHENTICATE)
  }
  // An error tells of a moment (an outage, a spent budget, a link not there
  // yet): without this, shared caches may keep a 404, 405 or 414 heuristically.
  reply.header('cache-control', PROBLEM_CACHE_CONTROL)
  if (!reply.hasHeader('cache-status') && isPaymentLinkPath(request.url)) reply.header('cache-status', REJECTED_CACHE_STATUS)
  return reply.code(status).type(PROBLEM_CONTENT_TYPE).send(toProblem(error, request.id))
}
