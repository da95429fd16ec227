import t from 'tap'
import { ACTIVE_ID, buildTestApp } from '../helpers/app.js'
import { TEST_CLIENT_SECRET, upstreamLink } from '../helpers/fake-kopokopo.js'

const API_KEY = 'logging-test-api-key-0001'

t.test('one line per request, with route, status, cache and upstream figures', async t => {
  const { app, fake, logs } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await app.inject({ url: `/payment-links/${ACTIVE_ID}`, headers: { 'x-request-id': 'log-check-1' } })
  await app.inject({ url: `/payment-links/${ACTIVE_ID}`, headers: { 'x-request-id': 'log-check-2' } })
  const lines = logs.lines.filter(l => l.requestId === 'log-check-1')
  t.equal(lines.length, 1, 'Fastify\'s incoming/completed pair is replaced')
  t.match(lines[0], {
    level: 30,
    msg: 'request',
    method: 'GET',
    route: '/payment-links/:id',
    path: `/payment-links/${ACTIVE_ID}`,
    status: 200,
    durationMs: Number,
    cache: 'k2-bff; fwd=miss; stored',
    upstreamStatus: 200,
    upstreamMs: Number
  })
  const hit = logs.lines.find(l => l.requestId === 'log-check-2')
  t.equal(hit?.cache, 'k2-bff; hit; ttl=3')
  t.notOk('upstreamStatus' in (hit ?? {}), 'no upstream figures when there was no upstream call')
})

t.test('no secret, token or API key in the logs at trace level, whatever happens', async t => {
  const { app, fake, logs } = await buildTestApp(t, { LOG_LEVEL: 'trace', API_KEYS: API_KEY, UPSTREAM_RETRIES: '1' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const auth = { authorization: `Bearer ${API_KEY}`, cookie: 'session=cookie-value-1' }
  await app.inject({ url: `/payment-links/${ACTIVE_ID}`, headers: auth })
  fake.revoke('test-token-1')
  await app.inject({ url: `/payment-links/${ACTIVE_ID.replace('1', '2')}`, headers: auth })
  fake.always('status', { status: 500, body: '{"error":"boom"}' })
  await app.inject({ url: `/payment-links/${ACTIVE_ID.replace('1', '3')}`, headers: { 'x-api-key': API_KEY } })
  fake.always('status', undefined)
  fake.always('token', { status: 401 })
  fake.revoke('test-token-2')
  await app.inject({ url: `/payment-links/${ACTIVE_ID.replace('1', '4')}`, headers: auth })
  await app.inject({ url: `/payment-links/${ACTIVE_ID}`, headers: { authorization: 'Bearer wrong-key-value-9999' } })

  t.ok(fake.issued.length >= 2, 'tokens were issued and used')
  t.ok(logs.lines.length >= 5)
  t.ok(logs.lines.some(l => l.level === 40), 'upstream failures were logged')
  for (const secret of [TEST_CLIENT_SECRET, ...fake.issued, API_KEY, 'wrong-key-value-9999', 'cookie-value-1']) {
    t.notMatch(logs.text, secret, `${secret.slice(0, 8)}… is not logged`)
  }
})
