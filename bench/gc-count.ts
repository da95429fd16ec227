import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks'
import type { GcCounts } from './children.js'

/**
 * Counts this process's V8 collections from Node's `gc` performance entries,
 * from the first call on; each call of the returned function is a snapshot.
 * The bench children report theirs over IPC, and the bench process counts
 * its own: it is the load generator, and a full GC in it stalls the schedule
 * of every request it sends.
 */
export function countGc (): () => GcCounts {
  const gc: GcCounts = { full: 0, minor: 0, pauseMs: 0 }
  new PerformanceObserver(list => {
    for (const entry of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>) {
      const kind = entry.detail?.kind
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.full++
      else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.minor++
      gc.pauseMs += entry.duration
    }
  }).observe({ entryTypes: ['gc'] })
  return () => ({ ...gc })
}

/**
 * A full GC of this process now, when node runs with --expose-gc (`npm run
 * bench` gives it), resolved once `counter` has seen it: Node reports a
 * collection a couple of event-loop turns later, and it must not be counted
 * against what follows.
 */
export async function collectNow (counter: () => GcCounts): Promise<void> {
  if (typeof globalThis.gc !== 'function') return
  const before = counter().full
  globalThis.gc()
  for (let turn = 0; turn < 100 && counter().full === before; turn++) {
    await new Promise(resolve => setImmediate(resolve))
  }
}
