import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { ACTIVE_ID, buildTestApp } from '../helpers/app.js'
import { gate, upstreamLink } from '../helpers/fake-kopokopo.js'

const url = `/payment-links/${ACTIVE_ID}`
const OTHER_ID = '00000000-0000-4000-8000-000000000000'

t.test('every problem answer says no-store; answers about a link keep their max-age', async t => {
  const { app, fake } = await buildTestApp(t, {
    // A deadline a busy machine's answers fit in; the slow answer below is held past it.
    UPSTREAM_RETRIES: '0', UPSTREAM_TIMEOUT_MS: '1000', CIRCUIT_FAILURE_THRESHOLD: '2', CACHE_TTL_MS: '0'
  })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const answers: Array<[string, number, LightMyRequestResponse]> = []
  const expect = async (what: string, status: number, request: InjectOptions | string) => {
    answers.push([what, status, await app.inject(request)])
  }

  await expect('a link', 200, url)
  await expect('an unknown link', 404, `/payment-links/${OTHER_ID}`)
  await expect('a bad id', 400, '/payment-links/nope')
  await expect('a request with a body', 400, { method: 'GET', url, payload: 'x' })
  await expect('an unknown route', 404, '/nowhere')
  await expect('a wrong method', 405, { method: 'DELETE', url })
  await expect('an overlong URL', 414, `/payment-links/${'a'.repeat(10_000)}`)
  fake.enqueue('status', { status: 500 })
  await expect('Kopo Kopo failing', 502, url)
  const held = gate()
  t.teardown(held.open)
  fake.enqueue('status', { until: held.promise })
  await expect('Kopo Kopo too slow', 504, url)
  await expect('the circuit open', 503, url)
  const limited = await buildTestApp(t, { RATE_LIMIT_MAX: '1' })
  await limited.app.inject('/nowhere')
  answers.push(['over the rate limit', 429, await limited.app.inject('/nowhere')])

  for (const [what, status, res] of answers) {
    t.equal(res.statusCode, status, what)
    t.equal(res.headers['cache-control'], status === 200 ? 'private, max-age=0' : 'no-store', what)
  }
})

t.test('probes are never answered from a cache', async t => {
  const { app, fake } = await buildTestApp(t)
  const live = await app.inject('/health/live')
  t.equal(live.headers['cache-control'], 'no-store')
  fake.always('token', { status: 500 })
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 503)
  t.equal(ready.headers['cache-control'], 'no-store')
})
