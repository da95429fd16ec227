import type { IncomingMessage, ServerResponse } from 'node:http'
import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'
import { DOCS_PREFIX } from './swagger.js'

// Headers a browser script may read on our answers: validators, cache and
// request diagnostics, and the rate-limit budget.
const EXPOSED_HEADERS = [
  'ETag', 'Cache-Status', 'X-Request-Id', 'Retry-After',
  'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'
]
const PREFLIGHT_MAX_AGE_SECONDS = 600

declare module 'fastify' {
  interface FastifyInstance {
    /** What CORS adds to a GET's answer, for the cache-hit fast path; undefined when CORS is off. */
    simpleCors: SimpleCors | undefined
  }
}

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

export interface SecurityHeaders {
  /** On every answer but the docs pages: JSON, problems, 304s. */
  api: Record<string, string>
  /** helmet's whole policy, for the docs pages. */
  docs: Record<string, string>
}

/**
 * helmet's policy, computed once: without @fastify/helmet, which rebuilds the
 * helmet middleware on every request (`npm run bench` measured it at about a
 * quarter of a cache hit's cost). The headers never vary by request.
 */
export function securityHeaders (corsOrigins: string[] | '*'): SecurityHeaders {
  const common = {
    // The API answers JSON only; the Swagger UI pages set their own,
    // hash-based CSP (plugins/swagger.ts), which replaces this one.
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: corsOrigins.length === 0 ? 'same-origin' as const : 'cross-origin' as const }
  }
  const api = helmetHeaders({
    ...common,
    // As frame-ancestors 'none' says, for browsers that only know this header.
    xFrameOptions: { action: 'deny' },
    crossOriginOpenerPolicy: false,
    originAgentCluster: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false
  })
  return { api, docs: helmetHeaders(common) }
}

/**
 * Security headers on every answer, and CORS for exactly the configured origins.
 * JSON answers get the set OWASP's REST Security Cheat Sheet asks of an API
 * (plus CORP and Referrer-Policy); the docs pages, the only HTML served, get
 * helmet's whole policy. The rest of helmet's headers act on documents only
 * (opener isolation, DNS prefetch, old IE and Flash): on a JSON answer they
 * are nearly a quarter of the bytes of every 304 a polling page receives.
 */
export default fp(async function securityPlugin (app: FastifyInstance, options: { corsOrigins: string[] | '*', headers: SecurityHeaders }) {
  const { api: apiHeaders, docs: docsHeaders } = options.headers
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(apiHeaders)
    done()
  })
  // Per route, as routes are declared: the API's hot path does no URL test.
  app.addHook('onRoute', route => {
    if (route.url !== DOCS_PREFIX && !route.url.startsWith(`${DOCS_PREFIX}/`)) return
    route.onRequest = [...[route.onRequest ?? []].flat(), (_request, reply, done) => {
      reply.headers(docsHeaders)
      done()
    }]
  })

  // No origins: no CORS grant to make, so no hook on every request either.
  app.decorate('simpleCors', options.corsOrigins.length === 0 ? undefined : simpleCors(options.corsOrigins))
  if (options.corsOrigins.length === 0) return
  await app.register(cors, {
    origin: options.corsOrigins,
    methods: ['GET', 'HEAD'],
    allowedHeaders: ['Authorization', 'X-API-Key', 'X-Request-Id', 'If-None-Match', 'If-Match'],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
    cacheControl: PREFLIGHT_MAX_AGE_SECONDS,
    // An OPTIONS that is not a preflight is answered 204 without a grant,
    // rather than with the plugin's text/plain 400.
    strictPreflight: false
  })
}, { name: 'security' })

/** The CORS part of an answer to a simple (not preflight) request, as @fastify/cors writes it. */
export interface SimpleCors {
  /** Whether Vary names Origin: the grant depends on it unless every origin has it. */
  varyOrigin: boolean
  /** Header names and values for a request from `origin`, in the plugin's order. */
  headers: (origin: string | undefined) => string[]
}

/**
 * What the CORS plugin above adds to a GET's answer, for the cache-hit fast
 * path (payment-links/fast-path.ts), which answers without it. The fast
 * path's tests compare its answers with the plugin's, origin by origin.
 */
function simpleCors (corsOrigins: string[] | '*'): SimpleCors {
  const exposed = ['access-control-expose-headers', EXPOSED_HEADERS.join(', ')]
  if (corsOrigins === '*') {
    const headers = ['access-control-allow-origin', '*', ...exposed]
    return { varyOrigin: false, headers: () => headers }
  }
  return {
    varyOrigin: true,
    headers: origin => origin !== undefined && corsOrigins.includes(origin) ? ['access-control-allow-origin', origin, ...exposed] : exposed
  }
}
