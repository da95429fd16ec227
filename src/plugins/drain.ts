import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * From now on readiness answers 503 while every request is still served,
     * so a load balancer stops sending traffic before the listener closes.
     */
    startDraining: () => void
    readonly draining: boolean
  }
}

// How often, during shutdown, connections whose last answer has gone out are closed.
const SWEEP_MS = 50

/**
 * During shutdown, requests already in flight finish normally, and their
 * keep-alive connections are closed as soon as they fall idle: otherwise an
 * idle socket would hold close() open until SHUTDOWN_TIMEOUT_MS and the
 * process would exit in error. New requests meanwhile get Fastify's 503
 * (return503OnClosing), /health/ready included, so load balancers drain us.
 * A sweep during shutdown, rather than a per-request hook, keeps this off the
 * hot path.
 */
export default fp(async function drainPlugin (app: FastifyInstance) {
  let draining = false
  app.decorate('startDraining', () => { draining = true })
  app.decorate('draining', { getter: () => draining })

  let sweep: NodeJS.Timeout | undefined
  app.addHook('preClose', async () => {
    sweep = setInterval(() => app.server.closeIdleConnections(), SWEEP_MS).unref()
  })
  app.addHook('onClose', async () => { clearInterval(sweep) })
}, { name: 'drain' })
