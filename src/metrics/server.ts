import Fastify, { type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'

/**
 * Prometheus scrape endpoint on its own listener, so metrics never reach the
 * public port that browsers and the load balancer see.
 */
export function buildMetricsServer (registry: Registry): FastifyInstance {
  // On close, every connection is cut: a scrape is cheap to lose, and a
  // connection that is open but sends nothing (a TCP probe, a port scan, a
  // scraper's half-sent request) would otherwise hold the whole shutdown.
  const app = Fastify({ logger: false, forceCloseConnections: true })
  app.get('/metrics', async (_request, reply) => {
    reply.type(registry.contentType)
    return await registry.metrics()
  })
  return app
}
