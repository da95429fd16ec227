import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Problem } from '../problem.js'
import { PaymentLink } from '../payment-links/schema.js'

const DESCRIPTION = `Payment link status for checkout pages, apps and internal services.

This service holds the Kopo Kopo credentials, manages the access token, caches and
collapses upstream traffic, and answers with a small, stable document. Errors are
RFC 9457 problem details (\`application/problem+json\`) carrying the request id.`

/**
 * The OpenAPI document is generated from the route schemas (never written by
 * hand) and served at /openapi.json, with Swagger UI at /docs.
 */
export default fp(async function swaggerPlugin (app: FastifyInstance, options: { apiKeys: boolean, version: string }) {
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
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'swagger' })
