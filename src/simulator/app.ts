import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import { ApiError, OAuthError } from './errors.js'
import { oauthRoutes } from './oauth.js'
import { paymentLinkRoutes } from './payment-links.js'
import { SEED_IDS, type SeedIds } from './seed.js'
import { createState, type SimulatorOptions, type SimulatorState, type SimulatorStats } from './state.js'

export type { SimulatorOptions, SimulatorStats } from './state.js'

export interface StartSimulatorOptions extends SimulatorOptions {
  host?: string
  port?: number
}

export interface Simulator {
  // The origin, e.g. http://127.0.0.1:12345, to use as Kopo Kopo's base URL.
  url: string
  credentials: { clientId: string, clientSecret: string }
  ids: SeedIds
  // Live counters: read them after the calls under test.
  stats: SimulatorStats
  close (): Promise<void>
}

export function buildSimulator (options: SimulatorOptions): FastifyInstance {
  return assemble(options).app
}

export async function startSimulator (options: StartSimulatorOptions): Promise<Simulator> {
  const { app, state } = assemble(options)
  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 })
  const { address, family, port } = app.server.address() as AddressInfo
  const host = family === 'IPv6' ? `[${address}]` : address
  return {
    url: `http://${host}:${port}`,
    credentials: { clientId: options.clientId, clientSecret: options.clientSecret },
    ids: SEED_IDS,
    stats: state.stats,
    close: async () => { await app.close() }
  }
}

function assemble (options: SimulatorOptions): { app: FastifyInstance, state: SimulatorState } {
  const state = createState(options)
  const app = Fastify({ logger: options.logger ?? false })

  app.setErrorHandler((error: FastifyError | ApiError | OAuthError, request, reply) => {
    // Sent as plain objects: Fastify would serialise an Error in its own shape.
    if (error instanceof ApiError) return reply.code(error.statusCode).headers(error.headers).send(error.toJSON())
    if (error instanceof OAuthError) return reply.code(error.statusCode).send(error.toJSON())
    // Fastify's own errors (a malformed body, an unsupported media type) carry
    // their status; anything else is a simulator bug and says no more than that.
    const status = error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 500
    if (status === 500) request.log.error({ err: error }, 'simulator error')
    return reply.code(status).send(new ApiError(status, status === 500 ? 'Internal server error' : error.message).toJSON())
  })
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(new ApiError(404, 'Not found').toJSON()))

  app.register(oauthRoutes, { state })
  app.register(paymentLinkRoutes, { state })
  return { app, state }
}
