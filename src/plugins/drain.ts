import type { Socket } from 'node:net'
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
 * process would exit in error. A request that still arrives on a busy
 * connection is answered as usual (Fastify adds `Connection: close`), and
 * /health/ready says `draining`. Fastify's own 503 for these
 * (return503OnClosing, off in app.ts) would bypass every hook and the error
 * handler: no problem document, request id or security headers.
 * A sweep during shutdown, rather than a per-request hook, keeps this off the
 * hot path.
 */
export default fp(async function drainPlugin (app: FastifyInstance) {
  let draining = false
  app.decorate('startDraining', () => { draining = true })
  app.decorate('draining', { getter: () => draining })

  // Connections that have not sent a byte yet (a browser's or a balancer's
  // preconnect) have nothing in flight either, but Node counts a connection
  // as busy from the moment it opens: its closeIdleConnections leaves them,
  // and each held shutdown until SHUTDOWN_TIMEOUT_MS and its warning.
  const sockets = new Set<Socket>()
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })

  let sweep: NodeJS.Timeout | undefined
  app.addHook('preClose', async () => {
    draining = true
    app.log.info('closing: no new connections; finishing the requests in flight')
    sweep = setInterval(() => {
      app.server.closeIdleConnections()
      for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy()
    }, SWEEP_MS).unref()
  })
  app.addHook('onClose', async () => { clearInterval(sweep) })
}, { name: 'drain' })
