import rateLimit, { normalizeIP } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { RateLimitedError } from '../errors.js'

export interface RateLimitOptions {
  max: number
  windowMs: number
  onExceeded?: () => void
}

// Probes, the API document and its viewer never count against a budget.
const EXEMPT = /^\/(health\/|openapi\.json$|docs(\/|$))/

/**
 * Per-client budget: by API key when a valid one was presented, otherwise by
 * IP. The IP is Fastify's request.ip, which honours X-Forwarded-For only from
 * proxies trusted through TRUST_PROXY, so a spoofed header changes nothing.
 */
export default fp(async function rateLimitPlugin (app: FastifyInstance, options: RateLimitOptions) {
  // Exempt routes are marked as they are declared (before the rate-limit plugin
  // sees them), rather than by an allowList check on every request.
  app.addHook('onRoute', route => {
    if (EXEMPT.test(route.url)) route.config = { ...route.config, rateLimit: false }
  })
  await app.register(rateLimit, {
    global: true,
    max: options.max,
    timeWindow: options.windowMs,
    // IPv6 clients are keyed by their /64, as @fastify/rate-limit does by default:
    // one host usually holds a whole prefix.
    keyGenerator: (request: FastifyRequest) => request.apiKeyId === null ? `ip:${normalizeIP(request.ip)}` : `key:${request.apiKeyId}`,
    onExceeded: () => options.onExceeded?.(),
    errorResponseBuilder: (_request, context) => new RateLimitedError(Math.max(1, Math.ceil(context.ttl / 1000)))
  })
}, { name: 'rate-limit', dependencies: ['api-keys'] })
