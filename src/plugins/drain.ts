import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/**
 * During shutdown, requests already in flight finish normally but their
 * keep-alive connections are closed after the answer: otherwise an idle
 * keep-alive socket would hold close() open until SHUTDOWN_TIMEOUT_MS and the
 * process would exit in error. New requests meanwhile get Fastify's 503
 * (return503OnClosing), /health/ready included, so load balancers drain us.
 */
export default fp(async function drainPlugin (app: FastifyInstance) {
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close')
  })
}, { name: 'drain' })
