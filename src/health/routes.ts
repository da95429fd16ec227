import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger } from 'fastify'
import Type from 'typebox'
import { logFields } from '../errors.js'
import { withDeadline } from '../kopokopo/deadline.js'
import type { TokenProvider } from '../kopokopo/token-provider.js'
import { headerDoc, REQUEST_ID_HEADER, VARY_HEADER } from '../problem.js'

export interface HealthOptions {
  tokens: TokenProvider
  upstream: 'kopokopo' | 'simulator'
  timeoutMs: number
}

const Upstream = Type.Enum(['kopokopo', 'simulator'])
const Ready = Type.Object({ status: Type.Literal('ok'), upstream: Upstream })
const NotReady = Type.Object({ status: Type.Enum(['unavailable', 'draining']), upstream: Upstream })

// A probe must see the process as it is now, never a cache's copy.
const CACHE_CONTROL = 'no-store'
const json = <T>(description: string, schema: T) => ({
  description,
  headers: {
    'Cache-Control': headerDoc(`\`${CACHE_CONTROL}\`: a probe must see the process as it is now.`),
    'X-Request-Id': REQUEST_ID_HEADER,
    Vary: VARY_HEADER
  },
  content: { 'application/json': { schema } }
})

const healthRoutes: FastifyPluginAsyncTypebox<HealthOptions> = async (app, options) => {
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('cache-control', CACHE_CONTROL)
    done()
  })
  app.get('/health/live', {
    schema: {
      summary: 'Liveness: the process is running',
      operationId: 'getLiveness',
      tags: ['health'],
      response: { 200: json('The process is running.', Type.Object({ status: Type.Literal('ok') })) }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/health/ready', {
    schema: {
      summary: 'Readiness: an access token has been obtained, or can be now',
      operationId: 'getReadiness',
      tags: ['health'],
      response: {
        200: json('Ready: an access token has been obtained (now or before; Kopo Kopo failing later does not undo it).', Ready),
        503: json('Not ready: no access token has been obtained yet and none can be now, or the service is draining.', NotReady)
      }
    }
  }, async (request, reply) => {
    if (app.draining) return reply.code(503).send({ status: 'draining', upstream: options.upstream })
    const ready = await canGetToken(options, request.log)
    // A probe that gave up while the token was fetched gets no answer, but is logged and counted (as 499).
    const abandoned = reply.raw.destroyed
    reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', upstream: options.upstream })
    if (abandoned) app.logAbandoned(request, reply)
    return reply
  })
}

// Ready once a token has been had: the credentials and the way to Kopo Kopo
// worked. Kopo Kopo failing later does not make an instance unready. Every
// instance would fail together, and the load balancer, left with none, would
// answer in their place: no cached or stale answer, no problem document, no
// CORS grant. The service answers that outage itself (stale-if-error, 503s
// with Retry-After), and its metrics and logs show it.
async function canGetToken ({ tokens, timeoutMs }: HealthOptions, log: FastifyBaseLogger): Promise<boolean> {
  if (tokens.obtainedOnce) return true
  try {
    await withDeadline(timeoutMs, async deadline => await tokens.get(deadline))
    return true
  } catch (err) {
    // An instance that never turns ready must say why, or its log shows only 503s.
    log.warn(logFields(err), `not ready: ${err instanceof Error ? err.message : 'no access token'}`)
    return false
  }
}

export default healthRoutes
