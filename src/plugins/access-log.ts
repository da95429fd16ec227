import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Logger } from 'pino'
import { MAX_CLIENT_LENGTH } from '../client-address.js'
import type { Metrics } from '../metrics/metrics.js'
import type { UpstreamTrace } from '../payment-links/service.js'
import { shownPath } from '../request-target.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by routes that called Kopo Kopo, for the access log. */
    upstream: UpstreamTrace | null
  }
  interface FastifyInstance {
    /** Logs and counts a request the router refused before any hook (a malformed URL). */
    logUnrouted: (request: FastifyRequest, reply: FastifyReply) => void
    /** Logs and counts, as 499, a request whose client left before its answer could be sent. */
    logAbandoned: (request: FastifyRequest, reply: FastifyReply) => void
    /** Logs and counts an answer sent outside Fastify's pipeline (payment-links/fast-path.ts). */
    recordAnswer: (line: Answered, requestId: string) => void
  }
}

/** One answered request, as the access log and the request metrics see it. */
export interface Answered {
  route: string
  method: string
  url: string
  /** The client's address (request.ip: through the proxies TRUST_PROXY trusts); undefined only should Node not know the peer's. */
  client: string | undefined
  status: number
  elapsedMs: number
  cache: string | undefined
  upstream: UpstreamTrace | null | undefined
}

// What proxies log for a client that closed the connection before the answer.
const ABANDONED = 499

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
  const log = (line: Answered, logger: FastifyBaseLogger) => {
    const { route, status } = line
    logger.info({
      method: line.method,
      route,
      // The path only: no route here takes a query, and a client that puts
      // a secret there (an API key, a token), or in an absolute URL's
      // userinfo, must not have it written to the logs.
      path: shownPath(line.url),
      // Not flooded with what a client may write as its address (client-address.ts).
      ...(line.client === undefined ? {} : { client: line.client.slice(0, MAX_CLIENT_LENGTH) }),
      status,
      ...(status === ABANDONED ? { abandoned: true } : {}),
      durationMs: Math.round(line.elapsedMs * 100) / 100,
      ...(line.cache === undefined ? {} : { cache: line.cache }),
      // Unset (not null) on a request the router refused before decorating it.
      ...(line.upstream === null || line.upstream === undefined
        ? {}
        : { upstreamStatus: line.upstream.status, upstreamMs: Math.round(line.upstream.durationMs * 100) / 100 })
    }, 'request')
  }
  const count = (line: Answered) => {
    const series = metrics.requestSeries(line.route, line.method, String(line.status))
    series.count++
    series.duration.observe(line.elapsedMs / 1000)
  }
  const record = (route: string, request: FastifyRequest, reply: FastifyReply, status: number) => {
    const cache = reply.getHeader('cache-status')
    const line = {
      route,
      method: request.method,
      url: request.url,
      client: request.ip as string | undefined,
      status,
      elapsedMs: reply.elapsedTime,
      cache: typeof cache === 'string' ? cache : undefined,
      upstream: request.upstream
    }
    count(line)
    if (logsRequests) log(line, request.log)
  }
  // Its line is the one Fastify's request logger would write: the request id first.
  app.decorate('recordAnswer', (line: Answered, requestId: string) => {
    count(line)
    if (logsRequests) log(line, app.log.child({ requestId }))
  })
  const onResponse = (route: string) => (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    record(route, request, reply, reply.statusCode)
    done()
  }
  // Each route gets a hook that already knows its name (request.routeOptions
  // builds a new object on every read); everything else is 'unmatched'.
  app.addHook('onRoute', route => {
    route.onResponse = [...[route.onResponse ?? []].flat(), onResponse(route.url)]
  })
  // A client that gave up while we waited on Kopo Kopo (a tab closed, a
  // proxy's timeout) gets no answer, so onResponse never runs. Routes that
  // wait report it; Fastify's onRequestAbort hook would do it for every
  // request, at a fifth of a cache hit's cost (`npm run bench`'s hit path, A/B).
  app.decorate('logAbandoned', (request: FastifyRequest, reply: FastifyReply) => {
    record(request.routeOptions.url ?? 'unmatched', request, reply, ABANDONED)
  })
  const unmatched = onResponse('unmatched')
  app.decorate('logUnrouted', (request: FastifyRequest, reply: FastifyReply) => { unmatched(request, reply, () => {}) })
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) unmatched(request, reply, done)
    else done()
  })
}, { name: 'access-log' })
