import { performance } from 'node:perf_hooks'
import t from 'tap'
import type { ChildStats } from '../../bench/children.js'
import { cpuPerRequest, gcSince, measure, measureTogether, percentiles, type CpuSource, type LoadResult } from '../../bench/load.js'
import { FakeKopoKopo } from '../helpers/fake-kopokopo.js'

// The arithmetic every benchmark figure goes through: latency percentiles,
// and a server's CPU and collections read around a measured run.

type Stats = Pick<ChildStats, 'cpuUs' | 'userUs' | 'gc'>

/** A server whose stats() answers these snapshots in turn. */
function scripted (...snapshots: Stats[]): CpuSource & { reads: number } {
  const source = {
    reads: 0,
    stats: async () => snapshots[source.reads++]!
  }
  return source
}

function result (requests: number, overrides: Partial<LoadResult> = {}): LoadResult {
  return { requestsPerSecond: requests, latencyMs: { p50: 1, p90: 2, p99: 3, max: 4 }, requests, non2xx: 0, errors: 0, durationS: 1, ...overrides }
}

t.test('percentiles are nearest-rank over the values in numeric order', async t => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i)
  t.same(percentiles(hundred), { p50: 50, p90: 90, p99: 99, max: 100 })
  const thousand = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000 + 1)
  t.same(percentiles(thousand), { p50: 500, p90: 900, p99: 990, max: 1000 }, 'p99 of 1,000 is the 990th')
  // In text order 100 would come before 9, and 10 would be the median.
  t.same(percentiles([10, 9, 100]), { p50: 10, p90: 100, p99: 100, max: 100 })
  t.same(percentiles([5, 1, 4, 2, 3, 7, 6]), { p50: 4, p90: 7, p99: 7, max: 7 }, 'the rank rounds up')
  t.same(percentiles([0.1234567, 2.0004999]), { p50: 0.123, p90: 2, p99: 2, max: 2 }, 'to the microsecond')
  const none = percentiles([])
  t.ok([none.p50, none.p90, none.p99, none.max].every(Number.isNaN), 'no values, no figures')
})

t.test('collections between two snapshots', async t => {
  t.same(gcSince({ full: 1, minor: 10, pauseMs: 20.04 }, { full: 3, minor: 25, pauseMs: 31.2 }), { full: 2, minor: 15, pauseMs: 11.2 })
})

t.test('CPU per request as the tables print it', async t => {
  t.equal(cpuPerRequest({ serverCpuUsPerRequest: 25.4, serverUserUsPerRequest: 16.8 }), '25.4 µs (user 16.8)')
})

t.test('each server is read around the measured run only, and its figures are per answered request', async t => {
  const gc = (full: number, minor: number, pauseMs: number) => ({ full, minor, pauseMs })
  const a = scripted({ cpuUs: 1_000, userUs: 600, gc: gc(0, 5, 10) }, { cpuUs: 301_000, userUs: 200_600, gc: gc(1, 15, 30) })
  const b = scripted({ cpuUs: 0, userUs: 0, gc: gc(2, 0, 0) }, { cpuUs: 90_000, userUs: 45_000, gc: gc(2, 3, 4.5) })
  const calls: boolean[] = []
  // The measured run's wall time lies between the run's own and the whole call's.
  const wholeFrom = performance.now()
  let runMs = 0
  const [first, second] = await measureTogether([{ server: a, label: 'a' }, { server: b, label: 'b' }], async warmup => {
    calls.push(warmup)
    // Stats are read after the warm-up and after the measured run, not before the warm-up.
    t.equal(a.reads, warmup ? 0 : 1, 'read between the warm-up and the measured run')
    if (warmup) return []
    const from = performance.now()
    const results = [result(3_000), result(1_000)]
    runMs = performance.now() - from
    return results
  })
  const wholeMs = performance.now() - wholeFrom
  t.same(calls, [true, false], 'warmed up, then measured')
  t.same([a.reads, b.reads], [2, 2])
  t.match(first, { requests: 3_000, serverCpuUsPerRequest: 100, serverUserUsPerRequest: 66.7, serverGc: gc(1, 10, 20) })
  t.match(second, { requests: 1_000, serverCpuUsPerRequest: 90, serverUserUsPerRequest: 45, serverGc: gc(0, 3, 4.5) })
  // 300 ms of a's CPU over that wall time, in percent.
  t.ok(first!.serverCpuPercent >= Math.round(100 * 300 / wholeMs) && first!.serverCpuPercent <= Math.round(100 * 300 / runMs),
    `a's CPU over the measured run's wall time: ${first!.serverCpuPercent}% within ${Math.round(100 * 300 / wholeMs)}–${Math.round(100 * 300 / runMs)}%`)
  t.ok(second!.serverCpuPercent * 300 <= first!.serverCpuPercent * 90 + 300 && second!.serverCpuPercent * 300 >= first!.serverCpuPercent * 90 - 300,
    "b's over the same wall time: 90 ms against a's 300")
})

t.test('a run with failed answers is not a measurement', async t => {
  const cpu = { cpuUs: 0, userUs: 0, gc: { full: 0, minor: 0, pauseMs: 0 } }
  await t.rejects(measureTogether([{ server: scripted(cpu, cpu), label: 'the service' }], async warmup =>
    warmup ? [] : [result(100, { non2xx: 2, errors: 1 })]), { message: 'the service: 2 non-2xx answers and 1 errors under load' })
})

t.test('measure() drives the server with autocannon: every request on a path of its own, with its headers', async t => {
  const fake = await new FakeKopoKopo().always('status', { status: 200, body: '{}' }).start()
  t.teardown(async () => { await fake.close() })
  const idle = { cpuUs: 0, userUs: 0, gc: { full: 0, minor: 0, pauseMs: 0 } }
  let n = 0
  const measured = await measure(scripted(idle, { ...idle, cpuUs: 40_000 }), {
    url: fake.url, connections: 2, amount: 40, warmupS: 0, headers: { authorization: 'Bearer test' }, path: () => `/api/v2/payment_links/${n++}`
  })
  t.equal(measured.requests, 40)
  t.equal(measured.serverCpuUsPerRequest, 1_000)
  t.same([measured.non2xx, measured.errors], [0, 0])
  const paths = fake.requests.map(r => r.path)
  t.equal(new Set(paths).size, 40, 'a new path for each request')
  t.ok(fake.requests.every(r => r.headers.authorization === 'Bearer test'), 'with the headers given')
  t.ok(measured.latencyMs.p50 > 0 && measured.latencyMs.p50 <= measured.latencyMs.max, 'timed from every answer')
})
