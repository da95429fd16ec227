import { Child } from './children.js'
import { cpuPerRequest as cpu, load, measure, round, type Measured } from './load.js'
import { fmt, type ScenarioResult } from './report.js'
import { BENCH_LOG_LEVEL, serviceEnv } from './upstream.js'

// Scenario 1: one cached id through the whole service, next to a bare Fastify
// route answering the same bytes. Every server runs in a child process.
// `headers` is the bare route sending the service's response headers too, the
// target's comparison; `bare` sends the body alone: the two tell the cost of
// the bytes on the wire from the cost of the work per request.
//
// How fast this machine runs changes from one few seconds to the next (the
// same bare route's CPU per answer moved between 19 and 34 µs in one
// process's consecutive 3 s windows), so the servers are compared in short
// windows taken in turn, and the ratio is the median of the windows' ratios:
// a slow spell then weighs on both sides of one, or on a few of 36, which the
// median sets aside. Each round starts fresh processes (one process can run
// faster than another for its whole life, by what its JIT compiled at the
// start), and the order within a window alternates so that none of them
// always goes first (bench/README.md, *Hit-path windows*).

export const HIT_ID = 'bbbbbbbb-0000-4000-8000-000000000001'
const CONNECTIONS = 100
const ROUNDS = 3
const WINDOWS = 12
const WARMUP_S = 2
const WINDOW_S = 1
const TARGET_RATIO = 0.8
// Set per answer by Node or Fastify; every other header of the service's answer is replayed.
const PER_ANSWER = new Set(['connection', 'content-length', 'content-type', 'date', 'keep-alive'])

export interface HitPathOptions {
  upstreamUrl: string
  /** Extra node flags for a child, by name (e.g. --cpu-prof). */
  execArgv?: (name: string) => string[]
}

type Server = 'service' | 'bare' | 'headers'
const ORDERS: Server[][] = [['service', 'headers', 'bare'], ['bare', 'headers', 'service']]
interface Run extends Measured { server: Server, round: number, window: number }
/** One window: each server loaded in turn, and the ratios between them. */
interface Window {
  round: number
  window: number
  /** Service req/s over the byte-identical route's: the target's ratio. */
  ratio: number
  /** Service req/s over the body-only route's. */
  minimalRatio: number
  /** Service CPU per request over the byte-identical route's. */
  cpuRatio: number
}

export async function hitPath ({ upstreamUrl, execArgv = () => [] }: HitPathOptions): Promise<ScenarioResult> {
  const path = `/payment-links/${HIT_ID}`
  const runs: Run[] = []
  const windows: Window[] = []
  let answer: Answer | undefined
  for (let r = 0; r < ROUNDS; r++) {
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
      const primed = await prime(service.url + path)
      answer ??= primed
      const { body, contentType, headers } = answer
      const servers: Record<Server, Child> = {
        service,
        bare: await start({ role: 'bare', body, contentType }, execArgv('hit-bare')),
        headers: await start({ role: 'bare', body, contentType, headers }, execArgv('hit-headers'))
      }
      const url = (server: Server) => servers[server].url + path
      // Each warmed up alone (JIT, connections), unmeasured.
      for (const server of ORDERS[0]!) await load({ url: url(server), connections: CONNECTIONS, durationS: WARMUP_S })
      for (let w = 0; w < WINDOWS; w++) {
        const measured = {} as Record<Server, Measured>
        for (const server of ORDERS[w % ORDERS.length]!) {
          measured[server] = await measure(servers[server], { url: url(server), connections: CONNECTIONS, warmupS: 0, durationS: WINDOW_S })
          runs.push({ server, round: r, window: w, ...measured[server] })
        }
        const { service: hit, headers: padded, bare: floor } = measured
        windows.push({
          round: r,
          window: w,
          ratio: round(hit.requestsPerSecond / padded.requestsPerSecond),
          minimalRatio: round(hit.requestsPerSecond / floor.requestsPerSecond),
          cpuRatio: round(hit.serverCpuUsPerRequest / padded.serverCpuUsPerRequest)
        })
      }
    } finally {
      await Promise.all(children.map(c => c.close()))
    }
  }

  const of = (server: Server, pick: (run: Run) => number) => median(runs.filter(run => run.server === server).map(pick))
  const typical = (server: Server) => ({
    requestsPerSecond: of(server, run => run.requestsPerSecond),
    p50: round(of(server, run => run.latencyMs.p50)),
    p99: round(of(server, run => run.latencyMs.p99)),
    serverCpuUsPerRequest: round(of(server, run => run.serverCpuUsPerRequest), 1),
    serverUserUsPerRequest: round(of(server, run => run.serverUserUsPerRequest), 1)
  })
  const [hit, padded, floor] = (['service', 'headers', 'bare'] as const).map(typical) as [Typical, Typical, Typical]
  const ratios = windows.map(w => w.ratio)
  const ratio = round(median(ratios))
  const minimalRatio = round(median(windows.map(w => w.minimalRatio)))
  const cpuRatio = round(median(windows.map(w => w.cpuRatio)), 2)
  return {
    rows: [
      {
        scenario: '1. hit path req/s vs bare, same bytes',
        measured: `${ratio.toFixed(2)}x, median of ${windows.length} windows (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}); ` +
          `hit ${fmt(hit.requestsPerSecond)} / bare ${fmt(padded.requestsPerSecond)} req/s`,
        target: `>= ${TARGET_RATIO}x bare`,
        pass: ratio >= TARGET_RATIO
      },
      {
        scenario: '1. hit path p99 (p50) vs bare, same bytes',
        measured: `hit ${hit.p99} ms (${hit.p50}) / bare ${padded.p99} ms (${padded.p50})`,
        target: 'reported',
        pass: null
      },
      {
        scenario: '1. hit path server CPU/request vs bare, same bytes',
        measured: `hit ${cpu(hit)} / bare ${cpu(padded)}; ${cpuRatio.toFixed(2)}x`,
        target: 'reported',
        pass: null
      },
      {
        scenario: '1. hit path vs bare, body only',
        measured: `${minimalRatio.toFixed(2)}x; bare ${fmt(floor.requestsPerSecond)} req/s, ` +
          `p99 ${floor.p99} ms (${floor.p50}), ${cpu(floor)} per request`,
        target: 'reported',
        pass: null
      }
    ],
    data: {
      id: HIT_ID,
      connections: CONNECTIONS,
      rounds: ROUNDS,
      windows: WINDOWS,
      warmupS: WARMUP_S,
      windowS: WINDOW_S,
      logLevel: BENCH_LOG_LEVEL,
      // Set in the first round.
      bodyBytes: Buffer.byteLength(answer!.body),
      contentType: answer!.contentType,
      replayedHeaders: answer!.headers,
      ratio,
      minimalRatio,
      cpuRatio,
      medians: { service: hit, headers: padded, bare: floor },
      ratios: windows,
      runs
    },
    notes: [
      `hit path: ${CONNECTIONS} connections; ${ROUNDS} rounds of fresh servers, each warmed ${WARMUP_S} s, then ` +
      `${WINDOWS} windows of ${WINDOW_S} s per server taken in turn (orders ${ORDERS.map(o => o.join('/')).join(', ')}); ` +
      `ratios are medians of the windows'; LOG_LEVEL=${BENCH_LOG_LEVEL} for all; server CPU, median: ` +
      (['service', 'headers', 'bare'] as const).map(server => `${server} ${of(server, run => run.serverCpuPercent)}%`).join(', ')
    ]
  }
}

interface Answer { body: string, contentType: string, headers: Record<string, string> }
interface Typical { requestsPerSecond: number, p50: number, p99: number, serverCpuUsPerRequest: number, serverUserUsPerRequest: number }

/** Fills the service's cache with the id and checks the next answer is a hit; returns that answer for the bare routes to replay. */
async function prime (url: string): Promise<Answer> {
  await (await fetch(url)).arrayBuffer()
  const answer = await fetch(url)
  const body = await answer.text()
  const cacheStatus = answer.headers.get('cache-status') ?? ''
  if (answer.status !== 200 || !cacheStatus.includes('hit')) {
    throw new Error(`priming the cache failed: ${answer.status}, Cache-Status ${cacheStatus}`)
  }
  return {
    body,
    contentType: answer.headers.get('content-type') ?? '',
    headers: Object.fromEntries([...answer.headers].filter(([name]) => !PER_ANSWER.has(name)))
  }
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}
