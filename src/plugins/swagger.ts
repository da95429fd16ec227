import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Problem } from '../problem.js'
import { etagFor, matchesEtag } from '../etag.js'
import { PaymentLink } from '../payment-links/schema.js'

const DESCRIPTION = `Payment link status for checkout pages, apps and internal services.

This service holds the Kopo Kopo credentials, manages the access token, caches and
collapses upstream traffic, and answers with a small, stable document. Errors are
RFC 9457 problem details (\`application/problem+json\`) carrying the request id.`

// Swagger UI's top bar first renders its own SVG logo, whose inline <style> the
// plugin's static CSP blocks (swagger-api/swagger-ui#10655), before the plugin
// swaps in its logo. That one stylesheet is allowed by hash, not by
// 'unsafe-inline'; test-browser/docs.test.ts fails if an upgrade changes it.
/** Where Swagger UI and its files are served: the service's only HTML. */
export const DOCS_PREFIX = '/docs'

const SWAGGER_LOGO_STYLE = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='"

/**
 * The docs pages' CSP: the plugin's hash-based policy, plus the logo's style,
 * minus upgrade-insecure-requests, which would break /docs for operators who
 * reach the service over plain HTTP on an internal address.
 */
export function docsCsp (header: string): string {
  return header
    .replace(/style-src ([^;]*)/, (_, sources: string) => `style-src ${sources.trim()} ${SWAGGER_LOGO_STYLE}`)
    .replace(/;?\s*upgrade-insecure-requests/, '')
}

/**
 * The OpenAPI document is generated from the route schemas (never written by
 * hand) and served at /openapi.json, with Swagger UI at /docs.
 */
export default fp(async function swaggerPlugin (app: FastifyInstance, options: { apiKeys: boolean, version: string }) {
  if (options.apiKeys) {
    // Only the payment-link routes need a key; probes and docs stay open.
    app.addHook('onRoute', route => {
      if (route.url.startsWith('/payment-links')) route.schema = { ...route.schema, security: [{ bearerAuth: [] }, { apiKeyHeader: [] }] }
    })
  }
  app.addSchema(PaymentLink)
  app.addSchema(Problem)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Kopo Kopo payment links BFF', version: options.version, description: DESCRIPTION },
      tags: [
        { name: 'payment-links', description: 'Payment link status' },
        { name: 'health', description: 'Liveness and readiness probes' }
      ],
      ...(options.apiKeys
        ? {
            components: {
              securitySchemes: {
                bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key as a bearer token.' },
                apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key.' }
              }
            }
          }
        : {})
    },
    // Name components after their $id rather than def-0, def-1...
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) }
  })
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    staticCSP: true,
    transformStaticCSP: docsCsp
  })
  // Written out once (the document cannot change while the process runs) and
  // served with a validator: a client or code generator that checks for a new
  // version gets a 304, not 19 KB again. `no-cache`: it changes with a deploy.
  let document: { body: string, etag: string } | undefined
  // HEAD declared with GET, not Fastify's exposed HEAD route, which sets
  // `Content-Length: 0` on a 304 (see payment-links/route.ts).
  app.route({
    method: ['GET', 'HEAD'],
    url: '/openapi.json',
    schema: { hide: true },
    exposeHeadRoute: false,
    handler: async (request, reply) => {
      if (document === undefined) {
        const body = JSON.stringify(app.swagger())
        document = { body, etag: etagFor(Buffer.from(body)) }
      }
      reply.header('etag', document.etag).header('cache-control', 'no-cache')
      if (matchesEtag(request.headers['if-none-match'], document.etag)) return await reply.code(304).send()
      return await reply.type('application/json; charset=utf-8').send(document.body)
    }
  })
}, { name: 'swagger' })
