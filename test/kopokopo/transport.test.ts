import t from 'tap'
import { Agent, type Dispatcher } from 'undici'
import { buildTestApp } from '../helpers/app.js'
import { upstreamLink } from '../helpers/fake-kopokopo.js'

const ids = Array.from({ length: 12 }, (_, i) => `dddddddd-0000-4000-8000-${String(i).padStart(12, '0')}`)

t.test('one keep-alive pool: sequential calls reuse their connections', async t => {
  const { app, fake } = await buildTestApp(t)
  for (const id of ids) fake.links.set(id, upstreamLink(id))
  for (const id of ids.slice(0, 5)) t.equal((await app.inject(`/payment-links/${id}`)).statusCode, 200)
  t.equal(fake.requests.length, 6, 'one token call, five status calls')
  // The pool may open a second socket while the token call's is being
  // released, then rotates over both; it never opens one per call.
  const connections = new Set(fake.requests.map(r => r.port)).size
  t.ok(connections <= 2, `6 calls over ${connections} connection(s)`)
})

t.test('UPSTREAM_CONNECTIONS caps the connections to Kopo Kopo under concurrency', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_CONNECTIONS: '3' })
  for (const id of ids) fake.links.set(id, upstreamLink(id))
  fake.always('status', { delayMs: 50 })
  const answers = await Promise.all(ids.map(id => app.inject(`/payment-links/${id}`)))
  t.ok(answers.every(a => a.statusCode === 200))
  t.equal(fake.calls('status').length, ids.length)
  const connections = new Set(fake.requests.map(r => r.port)).size
  t.ok(connections > 1, `${connections} connections: concurrent calls do spread out`)
  t.ok(connections <= 3, `${connections} connections: never more than the cap`)
})

t.test('the deadline is the only timer on an upstream call: undici\'s own are off', async t => {
  // undici makes a timer per request for these and keeps it listed for up to
  // a second after it is cleared; the deadline's abort already ends both waits
  // (see resilience.test.ts for the slow headers and trickling body).
  const seen: Dispatcher.DispatchOptions[] = []
  const agent = new Agent().compose(dispatch => (options, handler) => {
    seen.push(options)
    return dispatch(options, handler)
  })
  t.teardown(() => agent.close())
  const { app, fake } = await buildTestApp(t, {}, { dispatcher: agent })
  const id = 'dddddddd-0000-4000-8000-00000000000f'
  fake.links.set(id, upstreamLink(id))
  t.equal((await app.inject(`/payment-links/${id}`)).statusCode, 200)
  t.same(seen.map(o => [o.path.split('/')[1], o.headersTimeout, o.bodyTimeout, 'signal' in o && o.signal !== undefined]), [
    ['oauth', 0, 0, true],
    ['api', 0, 0, true]
  ])
})
