import { readFile } from 'node:fs/promises'
import { parseCpuList, type CpuPlan, type Unpinned } from './cpu-pin.js'

// On a virtual machine, the hypervisor may keep a virtual CPU from running
// while it has work: its other guests want the host's cores. The guest's
// kernel counts that time as "steal" in /proc/stat. The miss path's runs
// measure a queue at half to three quarters of a core's load, whose p99 a
// slower core moves most, so each run reports how much of it its CPUs lost
// this way. Linux only; elsewhere (or without the column) nothing is reported.

/** One CPU's time since boot, in the kernel's clock ticks (USER_HZ). */
export interface CpuTicks {
  /** Every state: user, nice, system, idle, iowait, irq, softirq and steal. */
  total: number
  steal: number
}

/** Per-CPU ticks from /proc/stat's text, by CPU number (the summed `cpu` line is left out). */
export function parseProcStat (text: string): Map<number, CpuTicks> {
  const cpus = new Map<number, CpuTicks>()
  for (const line of text.split('\n')) {
    const match = /^cpu(\d+)\s+(.*)$/.exec(line)
    if (match === null) continue
    // user nice system idle iowait irq softirq steal [guest guest_nice]: guest
    // time is already counted in user and nice, so it is not added again.
    const ticks = match[2]!.trim().split(/\s+/).slice(0, 8).map(Number)
    if (ticks.length < 8 || ticks.some(n => !Number.isFinite(n))) continue
    cpus.set(Number(match[1]), { total: ticks.reduce((sum, n) => sum + n, 0), steal: ticks[7]! })
  }
  return cpus
}

/** A snapshot of every CPU's ticks, or undefined where there is no /proc/stat. */
export async function readCpuTicks (file = '/proc/stat'): Promise<Map<number, CpuTicks> | undefined> {
  try {
    return parseProcStat(await readFile(file, 'utf8'))
  } catch {
    return undefined
  }
}

/**
 * The share of `cpus`' time between two snapshots that was stolen, in percent
 * (one decimal); undefined when a snapshot is missing, a CPU is not in both,
 * or no time passed.
 */
export function stealPercent (before: Map<number, CpuTicks> | undefined, after: Map<number, CpuTicks> | undefined, cpus: number[]): number | undefined {
  if (before === undefined || after === undefined || cpus.length === 0) return undefined
  let total = 0
  let steal = 0
  for (const cpu of cpus) {
    const [b, a] = [before.get(cpu), after.get(cpu)]
    if (b === undefined || a === undefined) return undefined
    total += a.total - b.total
    steal += a.steal - b.steal
  }
  return total > 0 ? Math.round(1000 * steal / total) / 10 : undefined
}

/** The stolen shares a run reports: the server's CPU and the harness's apart. */
export interface StolenShares { server?: number, harness?: number }

/**
 * How to read the stolen shares between two snapshots under a CPU plan: the
 * server's CPU and the harness's apart when the server has one of its own;
 * unpinned, every CPU's together, as the server's (it runs on all of them).
 */
export function stealByPlan (plan: CpuPlan | Unpinned): (before?: Map<number, CpuTicks>, after?: Map<number, CpuTicks>) => StolenShares {
  if ('reason' in plan) return (before, after) => ({ server: stealPercent(before, after, [...(before?.keys() ?? [])]) })
  const [server, harness] = [parseCpuList(plan.server), parseCpuList(plan.harness)]
  return (before, after) => ({ server: stealPercent(before, after, server), harness: stealPercent(before, after, harness) })
}
