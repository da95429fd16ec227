import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Logger } from 'pino'
import type { Metrics } from '../metrics/metrics.js'
import type { UpstreamTrace } from '../payment-links/service.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by routes that called Kopo Kopo, for the access log. */
    upstream: UpstreamTrace | null
  }
  interface FastifyInstance {
    /** Logs and counts a request the router refused before any hook (a malformed URL). */
    logUnrouted: (request: FastifyRequest, reply: FastifyReply) => void
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
  const { metrics } = options
  // The level is fixed at start-up; skip building a line nobody will write.
  const logsRequests = (app.log as unknown as Logger).isLevelEnabled('info')

  app.decorateRequest('upstream', null)
  const onResponse = (route: string) => (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const status = reply.statusCode
    const series = metrics.requestSeries(route, request.method, String(status))
    series.count++
    series.duration.observe(reply.elapsedTime / 1000)

    if (logsRequests) {
      const path = request.url.length > MAX_LOGGED_PATH ? `${request.url.slice(0, MAX_LOGGED_PATH)}…` : request.url
      const cache = reply.getHeader('cache-status')
      request.log.info({
        method: request.method,
        route,
        path,
        status,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
        ...(cache === undefined ? {} : { cache }),
        // Unset (not null) on a request the router refused before decorating it.
        ...(request.upstream === null || request.upstream === undefined
          ? {}
          : { upstreamStatus: request.upstream.status, upstreamMs: Math.round(request.upstream.durationMs * 100) / 100 })
      }, 'request')
    }
    done()
  }
  // Each route gets a hook that already knows its name (request.routeOptions
  // builds a new object on every read); everything else is 'unmatched'.
  app.addHook('onRoute', route => {
    route.onResponse = [...[route.onResponse ?? []].flat(), onResponse(route.url)]
  })
  const unmatched = onResponse('unmatched')
  app.decorate('logUnrouted', (request: FastifyRequest, reply: FastifyReply) => { unmatched(request, reply, () => {}) })
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) unmatched(request, reply, done)
    else done()
  })
}, { name: 'access-log' })
