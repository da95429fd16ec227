import type { IncomingMessage, ServerResponse } from 'node:http'
import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

// Headers a browser script may read on our answers: validators, cache and
// request diagnostics, and the rate-limit budget.
const EXPOSED_HEADERS = [
  'ETag', 'Cache-Status', 'X-Request-Id', 'Retry-After',
  'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'
]
const PREFLIGHT_MAX_AGE_SECONDS = 600

/**
 * The header set helmet produces for `options`, computed once. helmet's
 * middleware only ever sets or removes headers, so a stand-in response
 * captures them all.
 */
export function helmetHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const capture = {
    setHeader: (name: string, value: unknown) => { headers[name.toLowerCase()] = String(value) },
    removeHeader: (name: string) => { delete headers[name.toLowerCase()] }
  }
  helmet(options)({} as IncomingMessage, capture as unknown as ServerResponse, () => {})
  return headers
}

/** Security headers on every answer, and CORS for exactly the configured origins. */
export default fp(async function securityPlugin (app: FastifyInstance, options: { corsOrigins: string[] | '*' }) {
  // helmet's policy, applied without @fastify/helmet: that plugin rebuilds the
  // helmet middleware on every request, which `npm run bench` measured at
  // about a quarter of a cache hit's cost. The headers never vary by request.
  const headers = helmetHeaders({
    // The API answers JSON only; the Swagger UI pages set their own,
    // hash-based CSP (plugins/swagger.ts), which replaces this one.
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: options.corsOrigins.length === 0 ? 'same-origin' : 'cross-origin' }
  })
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers)
    done()
  })

  // No origins: no CORS grant to make, so no hook on every request either.
  if (options.corsOrigins.length === 0) return
  await app.register(cors, {
    origin: options.corsOrigins,
    methods: ['GET', 'HEAD'],
    allowedHeaders: ['Authorization', 'X-API-Key', 'X-Request-Id', 'If-None-Match'],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
    cacheControl: PREFLIGHT_MAX_AGE_SECONDS
  })
}, { name: 'security' })
