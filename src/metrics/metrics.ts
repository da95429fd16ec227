import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { CircuitState } from '../kopokopo/circuit-breaker.js'
import { UPSTREAM_CALLS, UPSTREAM_OUTCOMES } from '../kopokopo/upstream.js'
import type { CacheEvent } from '../payment-links/service.js'

const PREFIX = 'k2bff_'

export interface RequestSeries {
  labels: { route: string, method: string, status: string }
  count: number
  duration: Histogram.Internal<'route' | 'method' | 'status'>
}
/** What the cache gauges read when scraped. */
export interface CacheOccupancy {
  readonly size: number
  readonly bytes: number
}
// Requests Node's HTTP parser refused: no route was matched, and no method
// can be trusted (an unknown one is the very refusal; it would also make the
// label's values unbounded). Node's parser knows no method by this name.
const REFUSED_ROUTE = 'unmatched'
const REFUSED_METHOD = 'unknown'
const CIRCUIT_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 }

/** What is running, for k2bff_build_info. */
export interface BuildInfo {
  version: string
  nodeVersion: string
}

/**
 * Every metric lives in a registry owned by one app instance (no global
 * registry), so tests and several apps in one process never collide.
 */
export function createMetrics (options: { build: BuildInfo, defaultMetrics?: boolean }) {
  const registry = new Registry()
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry })
  const registers = [registry]
  // The per-request counters are plain numbers, handed to prom-client when
  // scraped (its collect callback): prom-client hashes the label set on every
  // inc, a measurable share of a cache hit.
  const requestCounts = new Map<string, RequestSeries>()
  const cacheCounts: Record<CacheEvent, number> = { hit: 0, miss: 0, stale: 0, collapsed: 0 }
  const refusedCounts = new Map<number, number>()
  let cache: CacheOccupancy = { size: 0, bytes: 0 }
  let upstreamQueue: { readonly waiting: number } = { waiting: 0 }
  const metrics = {
    registry,
    httpRequests: new Counter({
      name: `${PREFIX}http_requests_total`,
      help: 'HTTP requests answered, by route, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers,
      collect () {
        this.reset()
        for (const { labels, count } of requestCounts.values()) this.inc(labels, count)
        for (const [status, count] of refusedCounts) this.inc({ route: REFUSED_ROUTE, method: REFUSED_METHOD, status: String(status) }, count)
      }
    }),
    httpDuration: new Histogram({
      name: `${PREFIX}http_request_duration_seconds`,
      help: 'Time to answer HTTP requests, by route, method and status.',
      labelNames: ['route', 'method', 'status'],
      // Up to 30 s, as the upstream's: a miss waits on Kopo Kopo for up to UPSTREAM_TIMEOUT_MS.
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers
    }),
    cacheEvents: new Counter({
      name: `${PREFIX}cache_events_total`,
      help: 'Payment link cache lookups, by result (hit, miss, stale, collapsed; one per lookup).',
      labelNames: ['result'],
      registers,
      collect () {
        this.reset()
        // Every result, 0 included: a series that appears only once used
        // makes rate() and ratios of results miss their start.
        for (const [result, count] of Object.entries(cacheCounts)) this.inc({ result }, count)
      }
    }),
    // Read at scrape time: nothing on the request path.
    cacheEntries: new Gauge({
      name: `${PREFIX}cache_entries`,
      help: 'Answers held in the payment link cache (404s included), bounded by CACHE_MAX_ENTRIES.',
      registers,
      collect () { this.set(cache.size) }
    }),
    cacheBytes: new Gauge({
      name: `${PREFIX}cache_size_bytes`,
      help: 'Size of the payment link cache as counted against CACHE_MAX_BYTES.',
      registers,
      collect () { this.set(cache.bytes) }
    }),
    cacheEvictions: new Counter({
      name: `${PREFIX}cache_evictions_total`,
      help: 'Cache entries pushed out by CACHE_MAX_ENTRIES or CACHE_MAX_BYTES before their stale window ended.',
      registers
    }),
    upstreamRequests: new Counter({
      name: `${PREFIX}upstream_requests_total`,
      help: 'Attempts sent to Kopo Kopo, by call (token, status) and outcome.',
      labelNames: ['call', 'outcome'],
      registers
    }),
    upstreamDuration: new Histogram({
      name: `${PREFIX}upstream_request_duration_seconds`,
      help: 'Duration of attempts sent to Kopo Kopo, by call and outcome.',
      labelNames: ['call', 'outcome'],
      // Up to 30 s: an attempt lasts at most UPSTREAM_TIMEOUT_MS, which may be set past the default 5 s.
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers
    }),
    upstreamWaiting: new Gauge({
      name: `${PREFIX}upstream_waiting`,
      help: 'Calls to Kopo Kopo waiting for one of the UPSTREAM_CONNECTIONS to come free.',
      registers,
      collect () { this.set(upstreamQueue.waiting) }
    }),
    upstreamBusy: new Counter({
      name: `${PREFIX}upstream_busy_total`,
      help: 'Calls to Kopo Kopo refused before they went out: every connection was busy for longer than they could wait (503, detail=busy).',
      registers
    }),
    tokenFetches: new Counter({
      name: `${PREFIX}token_fetches_total`,
      help: 'Access token fetches that reached Kopo Kopo (each may take several attempts).',
      registers
    }),
    circuitState: new Gauge({
      name: `${PREFIX}circuit_state`,
      help: 'Upstream circuit breaker: 0 closed, 1 half-open, 2 open.',
      registers
    }),
    rateLimited: new Counter({
      name: `${PREFIX}rate_limited_total`,
      help: 'Requests refused with 429 by the per-client rate limit.',
      registers
    }),
    // Prometheus's info-metric convention: always 1, the facts in its labels,
    // to be joined onto other series or compared across instances.
    buildInfo: new Gauge({
      name: `${PREFIX}build_info`,
      help: 'Always 1: the service version and Node.js version running, in its labels.',
      labelNames: ['version', 'node_version'],
      registers
    }),
    setCircuit (state: CircuitState): void {
      metrics.circuitState.set(CIRCUIT_VALUE[state])
    },
    /** The cache whose occupancy the gauges report. */
    watchCache (source: CacheOccupancy): void {
      cache = source
    },
    watchUpstreamQueue (source: { readonly waiting: number }): void {
      upstreamQueue = source
    },
    countCacheEvent (result: CacheEvent): void {
      cacheCounts[result]++
    },
    /**
     * A request Node's HTTP parser refused, answered below Fastify. Counted,
     * not timed: no request was read to time it from.
     */
    countRefused (status: number): void {
      refusedCounts.set(status, (refusedCounts.get(status) ?? 0) + 1)
    },
    /**
     * One route/method/status series, looked up once: bump `count` and
     * `duration.observe()` per request.
     */
    requestSeries (route: string, method: string, status: string): RequestSeries {
      const key = `${route} ${method} ${status}`
      let series = requestCounts.get(key)
      if (series === undefined) {
        series = { labels: { route, method, status }, count: 0, duration: metrics.httpDuration.labels(route, method, status) }
        requestCounts.set(key, series)
      }
      return series
    }
  }
  metrics.circuitState.set(0)
  metrics.buildInfo.set({ version: options.build.version, node_version: options.build.nodeVersion }, 1)
  // Once, at start-up, rather than at first use: see cacheEvents.
  for (const call of UPSTREAM_CALLS) for (const outcome of UPSTREAM_OUTCOMES) metrics.upstreamRequests.inc({ call, outcome }, 0)
  return metrics
}

export type Metrics = ReturnType<typeof createMetrics>
