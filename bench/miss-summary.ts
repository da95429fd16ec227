import type { GcCounts } from './children.js'
import type { StolenShares } from './cpu-steal.js'
import { round, type Measured } from './load.js'

// How the miss path's runs are paired, picked and written into its rows:
// pure functions of the figures, apart from the runs that produce them
// (bench/miss-path.ts), so that they can be checked on figures made up for it.

/** One side-by-side run: the upstream loaded directly and through a server, and what the server added. */
export interface Pair { direct: Measured, service: Measured, addedP50Ms: number, addedP99Ms: number }

/**
 * A side-by-side run, with the collections in this process, the load
 * generator, during the timed run, and its CPU time over that run's wall time.
 */
export interface PacedSides extends Pair {
  generatorGc: GcCounts
  generatorCpuPercent: number
  /**
   * The share of the timed run the hypervisor kept the server's CPU and the
   * harness's from running (their "steal" time, bench/cpu-steal.ts); unpinned,
   * `server` is every CPU's. Undefined where the machine does not report it.
   */
  stealPercent: StolenShares
}

/** A side-by-side run at an offered load: its share of the service's capacity, and the rate. */
export interface PacedPair extends PacedSides { load: number, rate: number }

/** What the server added over the direct side, at p50 and p99. */
export function pair (direct: Measured, service: Measured): Pair {
  return {
    direct,
    service,
    addedP50Ms: round(service.latencyMs.p50 - direct.latencyMs.p50),
    addedP99Ms: round(service.latencyMs.p99 - direct.latencyMs.p99)
  }
}

/** The pair whose added p99 is the median (the middle one of an odd count, the upper middle of an even one). */
export function medianPair<P extends Pair> (pairs: P[]): P {
  if (pairs.length === 0) throw new Error('no runs to take the median of')
  return [...pairs].sort((a, b) => a.addedP99Ms - b.addedP99Ms)[Math.floor(pairs.length / 2)]!
}

export function addedLatency (p: Pair): string {
  return `p50 ${signed(p.addedP50Ms)} ms, p99 ${signed(p.addedP99Ms)} ms (p99 ${p.direct.latencyMs.p99} -> ${p.service.latencyMs.p99} ms)`
}

/** A difference with its sign: a noisy run can make the added latency negative. */
export function signed (ms: number): string {
  return ms < 0 ? `${ms}` : `+${ms}`
}

/** The server's share of a CPU in each run, and its CPU per request, as ranges. */
export function busy (runs: PacedPair[]): string {
  return `${range(runs.map(p => p.service.serverCpuPercent), '%')} of a CPU ` +
    `(${range(runs.map(p => Math.round(p.service.serverCpuUsPerRequest)), ' µs')} per request)`
}

export function range (values: number[], unit: string): string {
  return `${Math.min(...values)}–${Math.max(...values)}${unit}`
}

/**
 * Each run's stolen share of the server's CPU (and, when the server had a CPU
 * of its own, the harness's), in the order of the runs.
 */
export function stealSummary (service: PacedPair[], relay: PacedPair[], pinned: boolean): string {
  const each = (runs: PacedPair[], cpu: 'server' | 'harness') => runs.map(p => p.stealPercent[cpu]?.toFixed(1) ?? '?').join(', ') + '%'
  if ([...service, ...relay].every(p => p.stealPercent.server === undefined)) return 'not reported by this machine (no steal time in /proc/stat)'
  if (!pinned) return `every CPU: the service's runs ${each(service, 'server')}, the bare relay's ${each(relay, 'server')}`
  return `the server's CPU: the service's runs ${each(service, 'server')}, the bare relay's ${each(relay, 'server')}; ` +
    `the harness's CPU in the same runs: ${each(service, 'harness')}; ${each(relay, 'harness')}`
}

export function gcSummary (gc: GcCounts): string {
  return `${gc.full} (${gc.minor} scavenges, ${gc.pauseMs} ms in GC)`
}

export function percent (share: number): string {
  return `${Math.round(share * 100)}%`
}
