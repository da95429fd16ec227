// autocannon ships no types and @types/autocannon is not a dependency: this is
// the part of its programmatic API the benchmarks use (autocannon 8).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  export interface RequestParams {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string | Buffer
  }

  export interface Request extends RequestParams {
    /** Called before every request; the returned object is sent. */
    setupRequest?: (request: RequestParams, context: Record<string, unknown>) => RequestParams
  }

  export interface Options {
    url: string
    connections?: number
    pipelining?: number
    /** Seconds. */
    duration?: number
    /** Total requests; overrides duration. */
    amount?: number
    timeout?: number
    headers?: Record<string, string>
    requests?: Request[]
    warmup?: { connections?: number, duration?: number }
  }

  export interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    total: number
    p50: number
    p90: number
    p99: number
  }

  export interface Result {
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    statusCodeStats: Record<string, { count: number }>
    latency: Histogram
    requests: Histogram & { sent: number }
    throughput: Histogram
  }

  export interface Instance extends EventEmitter, PromiseLike<Result> {
    on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): this
    on(event: string, listener: (...args: unknown[]) => void): this
    stop(): void
  }

  function autocannon (options: Options): Instance
  export default autocannon
}
