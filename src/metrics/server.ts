import Fastify, { type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'

/**
 * Prometheus scrape endpoint on its own listener, so metrics never reach the
 * public port that browsers and the load balancer see.
 */
export function buildMetricsServer (registry: Registry): FastifyInstance {
  const app = Fastify({ logger: false })
  app.get('/metrics', async (_request, reply) => {
    reply.type(registry.contentType)
    return await registry.metrics()
  })
  return app
}
