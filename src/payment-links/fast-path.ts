import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import { clientAddress, type TrustFunction } from '../client-address.js'
import { matchesEtag } from '../etag.js'
import { mustWait } from '../pipelining.js'
import { VARY } from '../plugins/api-keys.js'
import { budgetKey } from '../plugins/rate-limit.js'
import { requestIdFor } from '../request-id.js'
import { announcesBody, hostFault } from '../request-framing.js'
import { cacheControl, JSON_MEDIA_TYPE, PAYMENT_LINK_ROUTE } from './route.js'
import type { PaymentLinkService } from './service.js'

const PREFIX = '/payment-links/'

export interface FastPathOptions {
  /** The app whose budget, API keys, CORS, access log and drain state the fast path shares. */
  app: FastifyInstance
  service: PaymentLinkService
  /** Security headers of every API answer (plugins/security.ts). */
  securityHeaders: Record<string, string>
  trust: TrustFunction | false
}

/**
 * Fresh cache hits, answered from Node's request event before Fastify sees
 * them. Polling pages make these most of the traffic, and Fastify's pipeline
 * (routing, schemas, seven hooks) cost a hit more than twice what a bare route
 * costs (`npm run bench`'s hit path). The answer is the one the route would
 * give, byte for byte but the request id and the budget's numbers: the same
 * headers in the same order (CORS's as its plugin writes them, see
 * simpleCors), the client's budget taken from the same store, the same API
 * key check, log line and metrics (test/edge/fast-path.test.ts compares the
 * two paths on every kind of request).
 *
 * Everything else goes on to Fastify untouched, and is returned false for:
 * another method or path, an id not cached, stale or not found, a body, a
 * missing, repeated or malformed Host, If-Match, a request pipelined behind an
 * unsent answer, a missing or wrong API key, a spent budget and a draining
 * service.
 */
export function fastPath (options: FastPathOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { app, service, trust } = options
  const cors = app.simpleCors
  const keyed = app.identifyKey
  // What the app's hooks set before the route's (the rate limit's) in their
  // order: the API key's Vary, the security headers, then CORS, which adds
  // Origin to that Vary, or sets it.
  const varyOrigin = cors?.varyOrigin === true
  const before = [
    ...(keyed === undefined ? [] : ['vary', varyOrigin ? `${VARY}, Origin` : VARY]),
    ...Object.entries(options.securityHeaders).flat(),
    ...(keyed === undefined && varyOrigin ? ['vary', 'Origin'] : [])
  ]

  return function answerHit (req, res) {
    const url = req.url
    if (req.method !== 'GET' || url === undefined || !url.startsWith(PREFIX)) return false
    if (announcesBody(req) || mustWait(req, res) || app.draining) return false
    const started = performance.now()
    // Any string may be looked up: only validated, lowercase ids are ever cached.
    const id = url.slice(PREFIX.length)
    const hit = service.fresh(id)
    // The Host is judged after the lookup: a miss goes on to Fastify's hook, which judges it too.
    // If-Match, which pages do not send, is left to the route.
    if (hit === undefined || hostFault(req) !== undefined || req.headers['if-match'] !== undefined) return false
    const apiKeyId = keyed === undefined ? null : keyed(req.headers)
    if (keyed !== undefined && apiKeyId === null) return false
    // Taken last: a request that falls through is counted by the plugin instead.
    // One over budget is counted by both, which changes nothing: it is refused
    // either way, and the window does not move.
    const client = clientAddress(req, trust)
    const budget = app.takeBudget(budgetKey(client, apiKeyId))
    if (budget === undefined) return false

    service.served(id)
    const requestId = requestIdFor(req)
    const { entry, cacheStatus } = hit
    const headers = [
      'x-request-id', requestId, ...before, ...(cors === undefined ? [] : cors.headers(req.headers.origin)),
      'x-ratelimit-limit', budget.limit, 'x-ratelimit-remaining', budget.remaining, 'x-ratelimit-reset', budget.reset,
      'cache-status', cacheStatus, 'etag', entry.etag, 'cache-control', cacheControl(hit.maxAge)
    ]
    let status = 200
    if (matchesEtag(req.headers['if-none-match'], entry.etag)) {
      status = 304
      res.writeHead(status, headers).end()
    } else {
      headers.push('content-type', JSON_MEDIA_TYPE, 'content-length', String(entry.body.length))
      res.writeHead(status, headers).end(entry.body)
    }
    app.recordAnswer({
      route: PAYMENT_LINK_ROUTE, method: 'GET', url, status, client, elapsedMs: performance.now() - started, cache: cacheStatus, upstream: null
    }, requestId)
    return true
  }
}
