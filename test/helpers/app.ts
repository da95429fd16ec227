import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppDeps } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { FakeKopoKopo, TEST_CLIENT_ID, TEST_CLIENT_SECRET } from './fake-kopokopo.js'

/** A clock that only moves when the test says so. */
export class ManualClock {
  #now: number
  constructor (start = Date.parse('2026-06-01T09:00:00Z')) {
    this.#now = start
  }

  now (): number {
    return this.#now
  }

  advance (ms: number): void {
    this.#now += ms
  }
}

/** Captures the app's log lines as parsed JSON objects, and as raw text. */
export class LogCapture extends Writable {
  readonly lines: Array<Record<string, unknown>> = []
  text = ''
  readonly #waiters = new Set<() => void>()
  override _write (chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    const text = chunk.toString()
    this.text += text
    for (const line of text.split('\n')) if (line.trim() !== '') this.lines.push(JSON.parse(line))
    for (const wake of this.#waiters) wake()
    done()
  }

  /** The first line that matches, once it has been written (for lines written after a request's answer). */
  async waitFor (match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    return await new Promise(resolve => {
      const check = () => {
        const found = this.lines.find(match)
        if (found === undefined) return
        this.#waiters.delete(check)
        resolve(found)
      }
      this.#waiters.add(check)
      check()
    })
  }
}

export interface TestApp {
  app: FastifyInstance
  fake: FakeKopoKopo
  clock: ManualClock
  logs: LogCapture
  /** Every backoff or Retry-After wait the app asked for, in ms. */
  sleeps: number[]
  config: Config
}

export interface Teardown { teardown: (fn: () => unknown) => void }

/**
 * The real app against a fake Kopo Kopo on loopback. Waits are recorded and
 * skipped (retry delays are asserted, not slept) but pass on the injected
 * clock, jitter is 0 unless given. `shared`: another app's fake, for
 * instances that talk to one Kopo Kopo (its owner closes it).
 */
export async function buildTestApp (t: Teardown, env: Record<string, string> = {}, deps: AppDeps = {}, shared?: FakeKopoKopo): Promise<TestApp> {
  const fake = shared ?? await new FakeKopoKopo().start()
  if (shared === undefined) t.teardown(() => fake.close())
  const config = loadConfig({
    K2_BASE_URL: fake.url,
    K2_CLIENT_ID: TEST_CLIENT_ID,
    K2_CLIENT_SECRET: TEST_CLIENT_SECRET,
    LOG_LEVEL: 'trace',
    METRICS_PORT: '0',
    ...env
  })
  const clock = new ManualClock()
  const logs = new LogCapture()
  const sleeps: number[] = []
  const app = await buildApp(config, {
    clock,
    logStream: logs,
    random: () => 0,
    // The wait passes on the app's clock (its TTLs, token and pauses see it) without being slept.
    sleep: async (ms) => {
      sleeps.push(ms)
      clock.advance(ms)
    },
    ...deps
  })
  t.teardown(() => app.close())
  return { app, fake, clock, logs, sleeps, config }
}

export const ACTIVE_ID = 'aaaaaaaa-0000-4000-8000-000000000001'
export const PAID_ID = 'aaaaaaaa-0000-4000-8000-000000000002'

/**
 * The exact problem document an answer must carry: the given members plus the
 * answer's own request id.
 */
export function problem (res: { headers: Record<string, unknown> }, type: string, title: string, status: number, detail: string) {
  return { type: `urn:k2-bff:problem:${type}`, title, status, detail, requestId: res.headers['x-request-id'] }
}

/**
 * The value of one series in Prometheus text, undefined when absent: exact,
 * where a substring match would take a count of 30 for one of 3.
 */
export function sample (text: string, series: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}
