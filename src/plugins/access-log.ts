import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Metrics } from '../metrics/metrics.js'
import type { UpstreamTrace } from '../payment-links/service.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by routes that called Kopo Kopo, for the access log. */
    upstream: UpstreamTrace | null
  }
}

const MAX_LOGGED_PATH = 200

/**
 * One log line and one set of metrics per request, in place of Fastify's
 * request/response pair. Headers are never logged, so neither are API keys or
 * cookies; unmatched routes are labelled as such to keep metric cardinality
 * bounded under scanning.
 */
export default fp(async function accessLogPlugin (app: FastifyInstance, options: { metrics: Metrics }) {
  app.decorateRequest('upstream', null)
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    const status = reply.statusCode
    const seconds = reply.elapsedTime / 1000
    const labels = { route, method: request.method, status: String(status) }
    options.metrics.httpRequests.inc(labels)
    options.metrics.httpDuration.observe(labels, seconds)

    const path = request.url.length > MAX_LOGGED_PATH ? `${request.url.slice(0, MAX_LOGGED_PATH)}…` : request.url
    const cache = reply.getHeader('cache-status')
    request.log.info({
      method: request.method,
      route,
      path,
      status,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
      ...(cache === undefined ? {} : { cache }),
      ...(request.upstream === null
        ? {}
        : { upstreamStatus: request.upstream.status, upstreamMs: Math.round(request.upstream.durationMs * 100) / 100 })
    }, 'request')
  })
}, { name: 'access-log' })
