import type { FastifyBaseLogger } from 'fastify'
import { Pool, type Dispatcher } from 'undici'
import type { Clock, Sleep } from '../clock.js'
import { logFields } from '../errors.js'
import type { Config } from '../config.js'
import type { Metrics } from '../metrics/metrics.js'
import { CircuitBreaker, type CircuitChange } from './circuit-breaker.js'
import { KopoKopoClient } from './client.js'
import { Slots } from './slots.js'
import { TokenProvider } from './token-provider.js'
import { Upstream } from './upstream.js'

export interface KopoKopoDeps {
  /** Transport; by default a keep-alive pool owned (and closed) here. */
  dispatcher: Dispatcher | undefined
  clock: Clock
  sleep: Sleep
  random: () => number
  metrics: Metrics
  /** For the circuit's changes of state and failed token renewals: a few lines per outage, never one per request. */
  log: FastifyBaseLogger
}

/**
 * Everything that talks to Kopo Kopo, wired once: transport → retrying,
 * circuit-broken upstream → token provider → payment-link client.
 */
export function createKopoKopo (config: Pick<Config, 'upstream' | 'circuit'>, deps: KopoKopoDeps) {
  const { credentials } = config.upstream
  if (credentials === null) throw new Error('Kopo Kopo credentials are required (server.ts supplies the simulator\'s)')
  const { clock, metrics } = deps
  const dispatcher = deps.dispatcher ?? new Pool(config.upstream.baseUrl, {
    connections: config.upstream.connections,
    keepAliveTimeout: 30_000,
    connect: { timeout: config.upstream.timeoutMs }
  })
  const breaker = new CircuitBreaker({
    ...config.circuit,
    clock,
    onStateChange: change => {
      metrics.setCircuit(change.state)
      logCircuit(deps.log, change, config.circuit.resetMs)
    }
  })
  const slots = new Slots(config.upstream.connections)
  metrics.watchUpstreamQueue(slots)
  const upstream = new Upstream({
    dispatcher,
    slots,
    baseUrl: config.upstream.baseUrl,
    retries: config.upstream.retries,
    breaker,
    clock,
    sleep: deps.sleep,
    random: deps.random,
    observe: (call, outcome, seconds) => {
      metrics.upstreamRequests.inc({ call, outcome })
      metrics.upstreamDuration.observe({ call, outcome }, seconds)
    },
    onBusy: () => metrics.upstreamBusy.inc()
  })
  const tokens = new TokenProvider({
    upstream,
    ...credentials,
    clock,
    timeoutMs: config.upstream.timeoutMs,
    onFetch: () => metrics.tokenFetches.inc(),
    mayRenewEarly: () => breaker.closed,
    onRenewalFailure: (err, expiresInMs, retryInMs) => {
      deps.log.warn({ ...logFields(err), expiresInMs, retryInMs }, 'renewing the access token failed; the current one is used until it expires')
    }
  })
  let destroyed = false
  // undici's destroy() does not settle a close() that began with calls queued
  // in the pool beyond its connections: close() stops waiting here instead.
  let onDestroyed = (): void => {}
  const destroyedOnce = new Promise<void>(resolve => { onDestroyed = resolve })
  return {
    client: new KopoKopoClient(upstream, tokens),
    tokens,
    /** Closes the pool when it is ours, once its calls are done; an injected dispatcher belongs to its owner. */
    close: async () => { if (deps.dispatcher === undefined && !destroyed) await Promise.race([dispatcher.close(), destroyedOnce]) },
    /** Ends the pool's calls in flight at once; a close() under way then returns. */
    destroy: async () => {
      if (deps.dispatcher !== undefined) return
      destroyed = true
      onDestroyed()
      await dispatcher.destroy()
    }
  }
}

// The gauge shows the state when scraped; these lines say when it changed and
// why. Half-open is not logged: the probe's outcome, a moment later, is.
function logCircuit (log: KopoKopoDeps['log'], { state, from, consecutiveFailures }: CircuitChange, resetMs: number): void {
  if (state === 'open' && from === 'closed') {
    log.warn({ consecutiveFailures, openForMs: resetMs }, 'circuit opened: no calls to Kopo Kopo until a probe')
  } else if (state === 'open') {
    log.warn({ consecutiveFailures, openForMs: resetMs }, 'circuit reopened: the probe failed')
  } else if (state === 'closed') {
    log.info('circuit closed: the probe succeeded')
  }
}
