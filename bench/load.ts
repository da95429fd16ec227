import { performance } from 'node:perf_hooks'
import autocannon, { type Request } from 'autocannon'
import type { ChildStats, GcCounts } from './children.js'

export interface LoadOptions {
  url: string
  connections: number
  /** Seconds of measured load (ignored when `amount` is given). */
  durationS?: number
  /** Exactly this many requests instead of a duration. */
  amount?: number
  headers?: Record<string, string>
  /** A new path for every request, e.g. a fresh id each time. */
  path?: () => string
}

export interface Percentiles {
  p50: number
  p90: number
  p99: number
  max: number
}

export interface LoadResult {
  requestsPerSecond: number
  /** Milliseconds, from every response's own timing (autocannon's histogram is whole ms only). */
  latencyMs: Percentiles
  requests: number
  non2xx: number
  errors: number
  durationS: number
}

/** One autocannon run; latency percentiles are computed from every response at µs precision. */
export async function load (options: LoadOptions): Promise<LoadResult> {
  const { path } = options
  const requests: Request[] | undefined = path === undefined
    ? undefined
    : [{ method: 'GET', setupRequest: request => ({ ...request, path: path() }) }]
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    ...(options.amount === undefined ? { duration: options.durationS ?? 10 } : { amount: options.amount }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(requests === undefined ? {} : { requests })
  })
  const times: number[] = []
  instance.on('response', (_client, _status, _bytes, ms) => { times.push(ms) })
  const result = await instance
  return {
    requestsPerSecond: result.requests.average,
    latencyMs: percentiles(times),
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    durationS: result.duration
  }
}

/** Anything that reports its process's CPU time and GC counts: a bench child. */
export interface CpuSource {
  stats: () => Promise<Pick<ChildStats, 'cpuUs' | 'userUs' | 'gc'>>
}

export interface Measured extends LoadResult {
  /** The server's CPU time (user + system) per answered request, in µs: robust to other load on the machine. */
  serverCpuUsPerRequest: number
  /**
   * The user-space part of it (JavaScript, V8, libuv); the rest is the
   * kernel's (socket reads and writes). Measured rather than read off a CPU
   * profile: on this bench's saturated cores, profiles put about half of a
   * hit in the socket write, where process.cpuUsage() counts a fifth to a
   * third of it as system time.
   */
  serverUserUsPerRequest: number
  /** The server's CPU time over the wall time of the measured run. */
  serverCpuPercent: number
  /** The server's V8 collections during the measured run. */
  serverGc: GcCounts
}

/**
 * An unmeasured warm-up (JIT, pools, token), none when `warmupS` is 0, then a
 * measured autocannon run that also reads the server's CPU time.
 */
export async function measure (server: CpuSource, options: LoadOptions & { warmupS: number }): Promise<Measured> {
  const [measured] = await measureTogether([{ server, label: options.url }], async warmup =>
    warmup && options.warmupS === 0 ? [] : [await load(warmup ? { ...options, durationS: options.warmupS } : options)])
  return measured!
}

/**
 * Any load driver over one or more servers at once: `run(true)` warms up,
 * `run(false)` is measured and answers one result per server, in order. Each
 * server's CPU and GCs are read around the measured run. The warm-up may leave
 * its load running for the measured run to take up without a pause
 * (PacedLoad.schedule).
 */
export async function measureTogether (
  sides: Array<{ server: CpuSource, label: string }>,
  run: (warmup: boolean) => Promise<LoadResult[]>
): Promise<Measured[]> {
  const stats = async () => await Promise.all(sides.map(async ({ server }) => await server.stats()))
  await run(true)
  const before = await stats()
  const started = performance.now()
  const results = await run(false)
  const wallUs = (performance.now() - started) * 1000
  const after = await stats()
  return results.map((result, i) => {
    if (result.non2xx > 0 || result.errors > 0) {
      throw new Error(`${sides[i]!.label}: ${result.non2xx} non-2xx answers and ${result.errors} errors under load`)
    }
    const [b, a] = [before[i]!, after[i]!]
    const cpuUs = a.cpuUs - b.cpuUs
    return {
      ...result,
      serverCpuUsPerRequest: round(cpuUs / result.requests, 1),
      serverUserUsPerRequest: round((a.userUs - b.userUs) / result.requests, 1),
      serverCpuPercent: Math.round(100 * cpuUs / wallUs),
      serverGc: gcSince(b.gc, a.gc)
    }
  })
}

/** The collections between two snapshots of a GcCounts. */
export function gcSince (before: GcCounts, after: GcCounts): GcCounts {
  return { full: after.full - before.full, minor: after.minor - before.minor, pauseMs: round(after.pauseMs - before.pauseMs, 1) }
}

/** A server's CPU per request as the tables print it: total, and user time in brackets. */
export function cpuPerRequest ({ serverCpuUsPerRequest, serverUserUsPerRequest }: Pick<Measured, 'serverCpuUsPerRequest' | 'serverUserUsPerRequest'>): string {
  return `${serverCpuUsPerRequest} µs (user ${serverUserUsPerRequest})`
}

export function percentiles (values: number[]): Percentiles {
  const sorted = Float64Array.from(values).sort()
  const at = (q: number) => sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN
  return { p50: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)), max: round(at(1)) }
}

export function round (value: number, digits = 3): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}
