import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Client } from 'undici'
import { percentiles, type LoadResult } from './load.js'

// An open-loop load: requests leave on a fixed schedule whatever the server
// does, spread round-robin over `connections` keep-alive connections (as many
// polling browsers would be). autocannon is closed-loop (each connection sends
// its next request when the last one is answered), so under it latency is
// mostly queueing at whatever rate the slowest process sustains; and its rate
// options send each second's requests as one burst. Latency here runs from a
// request's scheduled time, so a stall is counted against every request it
// delays (no coordinated omission).

export interface PacedRun {
  /** Requests per second, offered whatever the answers do. */
  rate: number
  /**
   * Seconds of the same schedule sent before the timed requests and not
   * timed: the servers settle at this rate, and the timed ones follow without
   * a pause (see schedule()).
   */
  leadInS: number
  durationS: number
}

/** A schedule under way: `timed` once its first timed request has left, `results` once every answer is in. */
export interface Schedule {
  timed: Promise<void>
  results: Promise<LoadResult[]>
}

// How long the last answers of a run may take once every request has left.
const STRAGGLERS_MS = 30_000

/** What one load sends: a new path per request, and its headers. */
export interface PacedRequests {
  headers?: Record<string, string>
  path: () => string
}

/** `connections` keep-alive connections to `url`, opened before any timed request. */
export class PacedLoad {
  readonly #clients: Client[]
  readonly #requests: PacedRequests

  private constructor (clients: Client[], requests: PacedRequests) {
    this.#clients = clients
    this.#requests = requests
  }

  /**
   * Opens every connection with one untimed request each, so no timed request
   * pays for a TCP handshake or a cold accept.
   */
  static async open (url: string, connections: number, requests: PacedRequests): Promise<PacedLoad> {
    // No per-request timeouts: undici makes a timer per request for them and
    // keeps it listed for up to a second after the answer, long enough to be
    // promoted, and the full GCs that brings stall the schedule. A run that
    // does not finish is caught once, by result().
    const clients = Array.from({ length: connections }, () => new Client(url, { pipelining: 1, headersTimeout: 0, bodyTimeout: 0 }))
    const load = new PacedLoad(clients, requests)
    try {
      await Promise.all(clients.map(async client => {
        const response = await client.request({ method: 'GET', path: requests.path(), headers: requests.headers ?? {} })
        await response.body.dump()
      }))
    } catch (err) {
      await load.close()
      throw err
    }
    return load
  }

  /**
   * Runs several loads on one schedule: the n-th request of each leaves at the
   * same moment. Whatever the machine does during the run (another process
   * taking the cores, the load generator itself falling behind), every load
   * sees it, so differences between them are differences between the servers.
   *
   * The lead-in and the timed requests are one schedule. When they were two
   * runs, the pause between them (draining the first, then the generator's
   * own collection) was followed by about half a second in which both the
   * service and the bare relay answered slower than at any later time; at a
   * fixed rate that added about 2 ms to the service's p99 difference and 1 ms
   * to the relay's (bench/README.md).
   */
  static schedule (loads: PacedLoad[], { rate, leadInS, durationS }: PacedRun): Schedule {
    const firstTimed = Math.round(rate * leadInS)
    const total = firstTimed + Math.round(rate * durationS)
    const intervalMs = 1000 / rate
    const tallies = loads.map(load => load.#tally(firstTimed))
    let markTimed = (): void => {}
    let failTimed = (_err: unknown): void => {}
    const timed = new Promise<void>((resolve, reject) => {
      markTimed = resolve
      failTimed = reject
    })
    const results = (async () => {
      const started = performance.now()
      for (let sent = 0; sent < total;) {
        // Everything that fell due while we slept leaves now, timed from when it was due.
        const due = Math.min(total, Math.floor((performance.now() - started) / intervalMs) + 1)
        for (; sent < due; sent++) {
          if (sent === firstTimed) markTimed()
          for (const tally of tallies) tally.send(sent, started + sent * intervalMs)
        }
        if (sent < total) await sleep(Math.max(0, started + sent * intervalMs - performance.now()))
      }
      const timedFrom = started + firstTimed * intervalMs
      return await Promise.all(tallies.map(async tally => await tally.result(timedFrom)))
    })()
    // A schedule with no timed requests still settles `timed`, and so does one that fails.
    results.then(markTimed, failTimed)
    return { timed, results }
  }

  async close (): Promise<void> {
    await Promise.all(this.#clients.map(c => c.close()))
  }

  /**
   * Sends this load's requests and keeps their latencies. Through undici's
   * dispatch API rather than request(): no promise, stream or body object per
   * answer. That took the generator from about 70 to 58 µs of CPU per request,
   * and on this bench's shared cores what the generator spends the servers
   * lack. Requests before the `firstTimed`-th are answered but not timed.
   */
  #tally (firstTimed: number) {
    const clients = this.#clients
    const { headers = {}, path } = this.#requests
    const times: number[] = []
    let non2xx = 0
    let errors = 0
    let pending = 0
    let drained: (() => void) | undefined
    const settle = () => {
      if (--pending === 0) drained?.()
    }
    return {
      send (index: number, scheduled: number): void {
        pending++
        clients[index % clients.length]!.dispatch({ method: 'GET', path: path(), headers }, {
          // undici takes a handler for its current API by this method's presence.
          onRequestStart () {},
          onResponseStart (_controller, statusCode) {
            if (statusCode < 200 || statusCode > 299) non2xx++
          },
          onResponseEnd () {
            if (index >= firstTimed) times.push(performance.now() - scheduled)
            settle()
          },
          onResponseError () {
            errors++
            settle()
          }
        })
      },
      /**
       * Latencies and rate over the timed requests, `started` being when the
       * first of them was due; non-2xx answers and errors over all, lead-in included.
       */
      async result (started: number): Promise<LoadResult> {
        if (pending > 0) {
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => {
              reject(new Error(`${pending} requests still unanswered ${STRAGGLERS_MS / 1000} s after the schedule ended`))
            }, STRAGGLERS_MS)
            drained = () => {
              clearTimeout(timer)
              resolve()
            }
          })
        }
        const elapsedS = (performance.now() - started) / 1000
        return {
          requestsPerSecond: times.length / elapsedS,
          latencyMs: percentiles(times),
          requests: times.length,
          non2xx,
          errors,
          durationS: elapsedS
        }
      }
    }
  }
}
