import { Child } from './children.js'
import { cpuPerRequest as cpu, measure, round, type Measured } from './load.js'
import { fmt, type ScenarioResult } from './report.js'
import { BENCH_LOG_LEVEL, serviceEnv } from './upstream.js'

// Scenario 1: one cached id through the whole service, next to a bare Fastify
// route answering the same bytes. Every server runs in a child process. The
// runs are ordered headers, service, bare, bare, service, headers and each
// keeps its better run, so none profits from going first or last. `headers`
// is the bare route sending the service's response headers too, the target's
// comparison; `bare` sends the body alone: the two tell the cost of the bytes
// on the wire from the cost of the work per request.

export const HIT_ID = 'bbbbbbbb-0000-4000-8000-000000000001'
const CONNECTIONS = 100
const WARMUP_S = 2
const DURATION_S = 10
const TARGET_RATIO = 0.8
// Set per answer by Node or Fastify; every other header of the service's answer is replayed.
const PER_ANSWER = new Set(['connection', 'content-length', 'content-type', 'date', 'keep-alive'])

export interface HitPathOptions {
  upstreamUrl: string
  /** Extra node flags for a child, by name (e.g. --cpu-prof). */
  execArgv?: (name: string) => string[]
}

type Server = 'service' | 'bare' | 'headers'
const RUN_ORDER: Server[] = ['headers', 'service', 'bare', 'bare', 'service', 'headers']
interface Run extends Measured { server: Server }

export async function hitPath ({ upstreamUrl, execArgv = () => [] }: HitPathOptions): Promise<ScenarioResult> {
  const children: Child[] = []
  const start = async (...args: Parameters<typeof Child.start>) => {
    const child = await Child.start(...args)
    children.push(child)
    return child
  }
  try {
    const service = await start({
      role: 'service',
      env: serviceEnv(upstreamUrl, { CACHE_TTL_MS: '600000', CACHE_FINAL_TTL_MS: '600000' })
    }, execArgv('hit-service'))
    const path = `/payment-links/${HIT_ID}`
    await (await fetch(service.url + path)).arrayBuffer()
    const answer = await fetch(service.url + path)
    const body = await answer.text()
    const cacheStatus = answer.headers.get('cache-status') ?? ''
    if (answer.status !== 200 || !cacheStatus.includes('hit')) {
      throw new Error(`priming the cache failed: ${answer.status}, Cache-Status ${cacheStatus}`)
    }
    const contentType = answer.headers.get('content-type') ?? ''
    const headers = Object.fromEntries([...answer.headers].filter(([name]) => !PER_ANSWER.has(name)))
    const bare = await start({ role: 'bare', body, contentType }, execArgv('hit-bare'))
    const withHeaders = await start({ role: 'bare', body, contentType, headers })

    const servers: Record<Server, Child> = { service, bare, headers: withHeaders }
    const runs: Run[] = []
    for (const server of RUN_ORDER) {
      const child = servers[server]
      runs.push({ server, ...await measure(child, { url: child.url + path, connections: CONNECTIONS, warmupS: WARMUP_S, durationS: DURATION_S }) })
    }
    const best = (server: Server) => runs.filter(r => r.server === server)
      .reduce((a, b) => b.requestsPerSecond > a.requestsPerSecond ? b : a)
    const hit = best('service')
    const floor = best('bare')
    const padded = best('headers')
    // The target compares like with like: a bare route sending byte-identical
    // answers (the same headers and body), so the ratio is the cost of the
    // service's work per request, not of the header bytes on the wire.
    const ratio = round(hit.requestsPerSecond / padded.requestsPerSecond)
    const minimalRatio = round(hit.requestsPerSecond / floor.requestsPerSecond)
    return {
      rows: [
        {
          scenario: '1. hit path req/s vs bare, same bytes',
          measured: `hit ${fmt(hit.requestsPerSecond)} / bare ${fmt(padded.requestsPerSecond)} = ${ratio.toFixed(2)}x`,
          target: `>= ${TARGET_RATIO}x bare`,
          pass: ratio >= TARGET_RATIO
        },
        {
          scenario: '1. hit path p99 (p50) vs bare, same bytes',
          measured: `hit ${hit.latencyMs.p99} ms (${hit.latencyMs.p50}) / bare ${padded.latencyMs.p99} ms (${padded.latencyMs.p50})`,
          target: 'reported',
          pass: null
        },
        {
          scenario: '1. hit path server CPU/request vs bare, same bytes',
          measured: `hit ${cpu(hit)} / bare ${cpu(padded)} = ${round(hit.serverCpuUsPerRequest / padded.serverCpuUsPerRequest, 2)}x`,
          target: 'reported',
          pass: null
        },
        {
          scenario: '1. hit path vs bare, body only',
          measured: `hit / bare ${fmt(floor.requestsPerSecond)} req/s = ${minimalRatio.toFixed(2)}x; ` +
            `bare p99 ${floor.latencyMs.p99} ms (${floor.latencyMs.p50}), ${cpu(floor)} per request`,
          target: 'reported',
          pass: null
        }
      ],
      data: {
        id: HIT_ID,
        connections: CONNECTIONS,
        warmupS: WARMUP_S,
        durationS: DURATION_S,
        logLevel: BENCH_LOG_LEVEL,
        bodyBytes: Buffer.byteLength(body),
        contentType,
        replayedHeaders: headers,
        ratio,
        minimalRatio,
        best: { service: hit, bare: floor, headers: padded },
        runs
      },
      notes: [
        `hit path: ${CONNECTIONS} connections, ${WARMUP_S} s warm-up + ${DURATION_S} s per run, order ${RUN_ORDER.join('/')}, ` +
        `best run of each; LOG_LEVEL=${BENCH_LOG_LEVEL} for both; server CPU during runs: ` +
        runs.map(r => `${r.server} ${r.serverCpuPercent}%`).join(', ')
      ]
    }
  } finally {
    await Promise.all(children.map(c => c.close()))
  }
}
