import cors from '@fastify/cors'
import helmet from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

// Headers a browser script may read on our answers: validators, cache and
// request diagnostics, and the rate-limit budget.
const EXPOSED_HEADERS = [
  'ETag', 'Cache-Status', 'X-Request-Id', 'Retry-After',
  'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'
]
const PREFLIGHT_MAX_AGE_SECONDS = 600

/** Security headers on every answer, and CORS for exactly the configured origins. */
export default fp(async function securityPlugin (app: FastifyInstance, options: { corsOrigins: string[] | '*' }) {
  await app.register(helmet, {
    // The API answers JSON only; the Swagger UI pages get their own, hash-based
    // CSP from @fastify/swagger-ui.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        frameAncestors: ["'none'"]
      }
    },
    crossOriginResourcePolicy: { policy: options.corsOrigins.length === 0 ? 'same-origin' : 'cross-origin' }
  })
  await app.register(cors, {
    origin: options.corsOrigins === '*' ? '*' : options.corsOrigins.length === 0 ? false : options.corsOrigins,
    methods: ['GET', 'HEAD'],
    allowedHeaders: ['Authorization', 'X-API-Key', 'X-Request-Id', 'If-None-Match'],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
    cacheControl: PREFLIGHT_MAX_AGE_SECONDS
  })
}, { name: 'security' })
