import rateLimit, { normalizeIP } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { RateLimitedError } from '../errors.js'

export interface RateLimitOptions {
  max: number
  windowMs: number
  onExceeded?: () => void
}

// Probes, the API document and its viewer never count against a budget, nor
// CORS preflights (a browser sends one before it may send the request itself).
const EXEMPT = /^\/(health\/|openapi\.json$|docs(\/|$))/

// The headers @fastify/rate-limit sets, as numbers.
const NUMERIC_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']

/**
 * Per-client budget: by API key when a valid one was presented, otherwise by
 * IP. The IP is Fastify's request.ip, which honours X-Forwarded-For only from
 * proxies trusted through TRUST_PROXY, so a spoofed header changes nothing.
 */
export default fp(async function rateLimitPlugin (app: FastifyInstance, options: RateLimitOptions) {
  // Exempt routes are marked as they are declared (before the rate-limit plugin
  // sees them), rather than by an allowList check on every request.
  app.addHook('onRoute', route => {
    if (EXEMPT.test(route.url) || route.method === 'OPTIONS') route.config = { ...route.config, rateLimit: false }
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
  // @fastify/rate-limit sets its headers as numbers, which Node turns into text
  // through V8's number-to-string conversion; V8 keeps those results in a cache
  // that lives in the old generation. Under the benchmark's miss load (3,000
  // requests/s, a new X-RateLimit-Remaining on each) these headers left about
  // 95 KB/s of garbage there, close to half of all, freed only by full GCs.
  // toFixed(0) writes the same digits without that cache; making the numbers
  // small integers (`| 0`) did not help (A/B, see the README's miss path).
  app.addHook('onSend', (_request, reply, payload, done) => {
    for (const name of NUMERIC_HEADERS) {
      const value = reply.getHeader(name)
      if (typeof value === 'number') reply.header(name, value.toFixed(0))
    }
    done(null, payload)
  })
}, { name: 'rate-limit', dependencies: ['api-keys'] })
