import { randomUUID } from 'node:crypto'
import { Child, type ChildStats } from './children.js'
import { load } from './load.js'
import { MiB, fmt, type ScenarioResult } from './report.js'
import { serviceEnv } from './upstream.js'

// Scenario 4: the service's resident memory after a flood of distinct ids with
// the default cache bounds. Every id is a Paid link (cached for minutes), so
// the cache fills up to its bounds and stays there: the worst case.

const IDS = 200_000
const CONNECTIONS = 50
const TARGET_RSS_MIB = 256

export async function memory ({ upstreamUrl }: { upstreamUrl: string }): Promise<ScenarioResult> {
  const service = await Child.start({ role: 'service', env: serviceEnv(upstreamUrl) }, ['--expose-gc'])
  try {
    const idle = await service.stats()
    let issued = 0
    const result = await load({
      url: service.url,
      connections: CONNECTIONS,
      amount: IDS,
      path: () => {
        issued++
        return `/payment-links/${randomUUID()}`
      }
    })
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`memory: ${result.non2xx} non-2xx answers, ${result.errors} errors`)
    const loaded = await service.stats()
    const gcRan = await service.gc()
    const collected = await service.stats()
    const mib = (stats: ChildStats, key: 'rss' | 'heapUsed' | 'heapTotal') => Math.round(stats[key] / MiB * 10) / 10
    const worst = Math.max(mib(loaded, 'rss'), mib(collected, 'rss'))
    return {
      rows: [{
        scenario: `4. memory after ${fmt(result.requests)} distinct ids`,
        measured: `RSS ${mib(loaded, 'rss')} MiB, after GC ${gcRan ? `${mib(collected, 'rss')} MiB` : 'n/a'} ` +
          `(heap ${mib(collected, 'heapUsed')} MiB; idle RSS ${mib(idle, 'rss')} MiB; cache ${fmt(collected.cacheEntries ?? 0)} entries, ` +
          `${Math.round((collected.cacheBytes ?? 0) / MiB * 10) / 10} MiB)`,
        target: `RSS < ${TARGET_RSS_MIB} MiB`,
        pass: worst < TARGET_RSS_MIB
      }],
      data: {
        idsIssued: issued,
        answered: result.requests,
        connections: CONNECTIONS,
        requestsPerSecond: result.requestsPerSecond,
        gcRan,
        idle,
        afterLoad: loaded,
        afterGc: collected,
        config: 'defaults (CACHE_MAX_ENTRIES 10000, CACHE_MAX_BYTES 32 MiB, CACHE_FINAL_TTL_MS 300000) with LOG_LEVEL=warn, rate limit out of reach'
      },
      notes: [
        `memory: ${fmt(result.requestsPerSecond)} req/s of misses; V8 heap reserved ${mib(loaded, 'heapTotal')} MiB after load, ` +
        `${mib(collected, 'heapTotal')} MiB after GC, for ${mib(collected, 'heapUsed')} MiB in use (with the Node flags of npm start)`
      ]
    }
  } finally {
    await service.close()
  }
}
