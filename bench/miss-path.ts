import { randomUUID } from 'node:crypto'
import os from 'node:os'
import { Child } from './children.js'
import { measure, round, type Measured } from './load.js'
import { fmt, type Row, type ScenarioResult } from './report.js'
import { BENCH_TOKEN, STATUS_PATH, serviceEnv } from './upstream.js'

// Scenario 3: caching off and a new id on every request, so every request
// crosses the service to the bench upstream. The same upstream is loaded
// directly (with a bearer token, as the service sends) and through the
// service; the difference is what the service adds.

const CONNECTIONS = 50
const WARMUP_S = 2
const DURATION_S = 10
const TARGET_ADDED_P99_MS = 2

interface Pair { direct: Measured, service: Measured, addedP50Ms: number, addedP99Ms: number }

export interface MissPathOptions {
  upstream: Child
  /** Extra node flags for a child, by name (e.g. --cpu-prof). */
  execArgv?: (name: string) => string[]
}

export async function missPath ({ upstream, execArgv = () => [] }: MissPathOptions): Promise<ScenarioResult> {
  const service = await Child.start({
    role: 'service',
    env: serviceEnv(upstream.url, { CACHE_TTL_MS: '0', CACHE_FINAL_TTL_MS: '0', CACHE_NOT_FOUND_TTL_MS: '0' })
  }, execArgv('miss-service'))
  try {
    const direct = (connections: number, durationS: number) => measure(upstream, {
      url: upstream.url,
      connections,
      warmupS: WARMUP_S,
      durationS,
      headers: { authorization: `Bearer ${BENCH_TOKEN}` },
      path: () => STATUS_PATH + randomUUID()
    })
    const through = (connections: number, durationS: number) => measure(service, {
      url: service.url, connections, warmupS: WARMUP_S, durationS, path: () => `/payment-links/${randomUUID()}`
    })
    const loaded = pair(await direct(CONNECTIONS, DURATION_S), await through(CONNECTIONS, DURATION_S))
    // One connection: no queueing anywhere, so the difference is the service's own cost per request.
    // (Service first this time, so neither side always runs first.)
    const singleService = await through(1, DURATION_S / 2)
    const single = pair(await direct(1, DURATION_S / 2), singleService)

    const rows: Row[] = [
      {
        scenario: `3. miss path, ${CONNECTIONS} conns: added latency`,
        measured: `p50 +${loaded.addedP50Ms} ms, p99 +${loaded.addedP99Ms} ms (p99 ${loaded.direct.latencyMs.p99} -> ${loaded.service.latencyMs.p99} ms)`,
        target: `p99 added <= ${TARGET_ADDED_P99_MS} ms`,
        pass: loaded.addedP99Ms <= TARGET_ADDED_P99_MS
      },
      {
        scenario: `3. miss path, ${CONNECTIONS} conns: req/s`,
        measured: `direct ${fmt(loaded.direct.requestsPerSecond)}, service ${fmt(loaded.service.requestsPerSecond)}`,
        target: 'reported',
        pass: null
      },
      {
        scenario: '3. miss path, 1 conn: added latency',
        measured: `p50 +${single.addedP50Ms} ms, p99 +${single.addedP99Ms} ms (p99 ${single.direct.latencyMs.p99} -> ${single.service.latencyMs.p99} ms)`,
        target: 'reported (no queueing)',
        pass: null
      },
      {
        scenario: '3. miss path server CPU/request',
        measured: `service ${loaded.service.serverCpuUsPerRequest} µs, upstream alone ${loaded.direct.serverCpuUsPerRequest} µs`,
        target: 'reported',
        pass: null
      }
    ]
    return {
      rows,
      data: { warmupS: WARMUP_S, durationS: DURATION_S, [`connections${CONNECTIONS}`]: loaded, connections1: single },
      notes: [
        `miss path: closed loop, so at ${CONNECTIONS} connections latency includes queueing: on ${os.cpus().length} cores the service run has ` +
        'three busy processes (autocannon, service, upstream) where the direct run has two; the 1-connection pair shows the ' +
        'per-request cost without queueing. Caching off, a new UUID per request, default UPSTREAM_CONNECTIONS.'
      ]
    }
  } finally {
    await service.close()
  }
}

function pair (direct: Measured, service: Measured): Pair {
  return {
    direct,
    service,
    addedP50Ms: round(service.latencyMs.p50 - direct.latencyMs.p50),
    addedP99Ms: round(service.latencyMs.p99 - direct.latencyMs.p99)
  }
}
