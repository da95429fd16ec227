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
  durationS: number
  headers?: Record<string, string>
  path: () => string
}

/** `connections` keep-alive connections to `url`, opened before any timed request. */
export class PacedLoad {
  readonly #clients: Client[]

  private constructor (clients: Client[]) {
    this.#clients = clients
  }

  /**
   * Opens every connection with one untimed request each (`warmPath`), so no
   * timed request pays for a TCP handshake or a cold accept.
   */
  static async open (url: string, connections: number, warm: { path: string, headers?: Record<string, string> }): Promise<PacedLoad> {
    const clients = Array.from({ length: connections }, () => new Client(url, { pipelining: 1 }))
    const load = new PacedLoad(clients)
    try {
      await Promise.all(clients.map(async client => {
        const response = await client.request({ method: 'GET', path: warm.path, headers: warm.headers ?? {} })
        await response.body.dump()
      }))
    } catch (err) {
      await load.close()
      throw err
    }
    return load
  }

  async run ({ rate, durationS, headers = {}, path }: PacedRun): Promise<LoadResult> {
    const clients = this.#clients
    const total = Math.round(rate * durationS)
    const intervalMs = 1000 / rate
    const times: number[] = []
    let non2xx = 0
    let errors = 0
    const inflight = new Set<Promise<void>>()
    const send = (index: number, scheduled: number) => {
      const request = clients[index % clients.length]!.request({ method: 'GET', path: path(), headers }).then(
        async response => {
          await response.body.dump()
          if (response.statusCode < 200 || response.statusCode > 299) non2xx++
          times.push(performance.now() - scheduled)
        },
        () => { errors++ }
      ).finally(() => inflight.delete(request))
      inflight.add(request)
    }

    const started = performance.now()
    for (let sent = 0; sent < total;) {
      // Everything that fell due while we slept leaves now, timed from when it was due.
      const due = Math.min(total, Math.floor((performance.now() - started) / intervalMs) + 1)
      for (; sent < due; sent++) send(sent, started + sent * intervalMs)
      if (sent < total) await sleep(Math.max(0, started + sent * intervalMs - performance.now()))
    }
    await Promise.all(inflight)
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

  async close (): Promise<void> {
    await Promise.all(this.#clients.map(c => c.close()))
  }
}
