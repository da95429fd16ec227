import { performance } from 'node:perf_hooks'
import { Pool } from 'undici'
import { FakeKopoKopo, TEST_CLIENT_ID, TEST_CLIENT_SECRET, upstreamLink } from '../test/helpers/fake-kopokopo.js'
import { Child } from './children.js'
import type { ScenarioResult } from './report.js'
import { serviceEnv } from './upstream.js'

// Scenario 2: many callers asking for one uncached id while Kopo Kopo is slow
// must cost Kopo Kopo one status call (and at most one token call). The
// counting fake runs here; the service runs in a child process.

const COLLAPSE_ID = 'cccccccc-0000-4000-8000-000000000001'
const REQUESTS = 1000
const UPSTREAM_DELAY_MS = 200

export async function collapsing (): Promise<ScenarioResult> {
  const fake = await new FakeKopoKopo().start()
  fake.links.set(COLLAPSE_ID, upstreamLink(COLLAPSE_ID))
  fake.always('status', { delayMs: UPSTREAM_DELAY_MS })
  const service = await Child.start({
    role: 'service',
    env: serviceEnv(fake.url, { K2_CLIENT_ID: TEST_CLIENT_ID, K2_CLIENT_SECRET: TEST_CLIENT_SECRET })
  })
  const pool = new Pool(service.url, { connections: REQUESTS })
  try {
    // Open every connection first (a probe that never reaches Kopo Kopo), so
    // the burst below is not spread out by TCP accept backlogs.
    await fire(pool, '/health/live')
    const upstreamBefore = fake.requests.length
    const started = performance.now()
    const answers = await fire(pool, `/payment-links/${COLLAPSE_ID}`)
    const wallMs = Math.round(performance.now() - started)

    const statusCalls = fake.calls('status').length
    const tokenCalls = fake.calls('token').length
    const ok = answers.filter(a => a.status === 200).length
    const cacheStatus: Record<string, number> = {}
    for (const a of answers) {
      const how = /collapsed|stored|hit/.exec(a.cacheStatus)?.[0] ?? a.cacheStatus
      cacheStatus[how] = (cacheStatus[how] ?? 0) + 1
    }
    const breakdown = Object.entries(cacheStatus).map(([k, v]) => `${k} ${v}`).join(', ')
    return {
      rows: [
        {
          scenario: '2. collapsing: upstream calls',
          measured: `${statusCalls} status, ${tokenCalls} token for ${REQUESTS} requests`,
          target: '1 status, <= 1 token',
          pass: statusCalls === 1 && tokenCalls <= 1
        },
        {
          scenario: '2. collapsing: answers',
          measured: `${ok}/${REQUESTS} x 200 in ${wallMs} ms (${breakdown})`,
          target: `${REQUESTS}/${REQUESTS} x 200`,
          pass: ok === REQUESTS
        }
      ],
      data: {
        requests: REQUESTS,
        upstreamDelayMs: UPSTREAM_DELAY_MS,
        statusCalls,
        tokenCalls,
        upstreamRequestsBeforeBurst: upstreamBefore,
        ok,
        wallMs,
        cacheStatus
      }
    }
  } finally {
    await pool.close()
    await service.close()
    await fake.close()
  }
}

async function fire (pool: Pool, path: string): Promise<Array<{ status: number, cacheStatus: string }>> {
  return await Promise.all(Array.from({ length: REQUESTS }, async () => {
    const { statusCode, headers, body } = await pool.request({ method: 'GET', path })
    await body.dump()
    return { status: statusCode, cacheStatus: String(headers['cache-status'] ?? '') }
  }))
}
