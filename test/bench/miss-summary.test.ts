import t from 'tap'
import type { Measured } from '../../bench/load.js'
import { addedLatency, busy, gcSummary, medianPair, pair, percent, range, signed, stealSummary, type PacedPair } from '../../bench/miss-summary.js'

// The miss path judges its target on the median of five side-by-side runs
// and prints every run's figures beside it (bench/miss-summary.ts): which run
// is the median, and what the rows say, from figures made up for the test.

function measured (p50: number, p99: number, extra: Partial<Measured> = {}): Measured {
  return {
    requestsPerSecond: 3000,
    latencyMs: { p50, p90: p99, p99, max: p99 },
    requests: 24_000,
    non2xx: 0,
    errors: 0,
    durationS: 8,
    serverCpuUsPerRequest: 150.4,
    serverUserUsPerRequest: 120.2,
    serverCpuPercent: 55,
    serverGc: { full: 0, minor: 70, pauseMs: 60.5 },
    ...extra
  }
}

function run (addedP99Ms: number, extra: Partial<PacedPair> = {}): PacedPair {
  return {
    ...pair(measured(1, 2), measured(1.3, 2 + addedP99Ms)),
    load: 0.5,
    rate: 3000,
    generatorGc: { full: 0, minor: 30, pauseMs: 40 },
    generatorCpuPercent: 35,
    stealPercent: { server: 0, harness: 0.1 },
    ...extra
  }
}

t.test('a pair is what the server added over the direct side, rounded to the µs', async t => {
  const p = pair(measured(0.9, 2.6104), measured(1.2501, 3.4))
  t.equal(p.addedP50Ms, 0.35)
  t.equal(p.addedP99Ms, 0.79)
  t.equal(pair(measured(1, 3), measured(1, 2.5)).addedP99Ms, -0.5, 'a noisy run can come out negative')
  t.equal(addedLatency(p), 'p50 +0.35 ms, p99 +0.79 ms (p99 2.6104 -> 3.4 ms)')
})

t.test('the median run is judged, whatever order the runs came in', async t => {
  const runs = [run(4.23), run(1.19), run(2.91), run(1.7), run(1.86)]
  const median = medianPair(runs)
  t.equal(median, runs[4], 'the run itself, with its own direct and service figures')
  t.same(runs.map(r => r.addedP99Ms), [4.23, 1.19, 2.91, 1.7, 1.86], 'the runs keep their order for the row')
  t.equal(medianPair([run(3), run(1)]).addedP99Ms, 3, 'of an even count, the upper middle: never the kinder one')
  t.equal(medianPair([run(-0.2)]).addedP99Ms, -0.2)
  t.throws(() => medianPair([]), { message: 'no runs to take the median of' })
})

t.test('figures as the rows print them', async t => {
  t.equal(signed(1.5), '+1.5')
  t.equal(signed(0), '+0')
  t.equal(signed(-0.25), '-0.25')
  t.equal(percent(0.5), '50%')
  t.equal(percent(0.255), '26%')
  t.equal(range([3, 1, 2], '%'), '1–3%')
  t.equal(gcSummary({ full: 1, minor: 70, pauseMs: 80.5 }), '1 (70 scavenges, 80.5 ms in GC)')
  const runs = [
    run(1, { service: measured(1, 3, { serverCpuPercent: 61, serverCpuUsPerRequest: 170.6 }) }),
    run(1, { service: measured(1, 3, { serverCpuPercent: 52, serverCpuUsPerRequest: 149.4 }) })
  ]
  t.equal(busy(runs), '52–61% of a CPU (149–171 µs per request)')
})

t.test("the hypervisor's share of the CPUs, run by run", async t => {
  const service = [run(1, { stealPercent: { server: 0, harness: 0.1 } }), run(1, { stealPercent: { server: 1.25, harness: 2 } })]
  const relay = [run(1, { stealPercent: { server: 0.3, harness: undefined } })]
  t.equal(stealSummary(service, relay, true),
    "the server's CPU: the service's runs 0.0, 1.3%, the bare relay's 0.3%; the harness's CPU in the same runs: 0.1, 2.0%; ?%",
    'pinned: both CPUs, a share the machine did not give as "?"')
  t.equal(stealSummary(service, relay, false), "every CPU: the service's runs 0.0, 1.3%, the bare relay's 0.3%",
    'unpinned (--unpinned, or no taskset): one share for every CPU')
  const none = [run(1, { stealPercent: {} })]
  t.equal(stealSummary(none, none, true), 'not reported by this machine (no steal time in /proc/stat)')
})
