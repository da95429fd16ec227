import { connect } from 'node:net'
import t from 'tap'
import { ACTIVE_ID, buildTestApp, sample, type TestApp } from '../helpers/app.js'
import { TEST_CLIENT_SECRET, gate, upstreamLink } from '../helpers/fake-kopokopo.js'

const API_KEY = 'logging-test-api-key-0001'

t.test('one line per request, with route, status, cache and upstream figures', async t => {
  const { app, fake, logs } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await app.inject({ url: `/payment-links/${ACTIVE_ID}`, headers: { 'x-request-id': 'log-check-1' } })
  await app.inject({ url: `/payment-links/${ACTIVE_ID}`, headers: { 'x-request-id': 'log-check-2' } })
  const lines = logs.lines.filter(l => l.requestId === 'log-check-1')
  t.equal(lines.length, 1, 'Fastify\'s incoming/completed pair is replaced')
  t.same(Object.keys(lines[0] ?? {}).filter(key => !['time', 'pid', 'hostname'].includes(key)),
    ['level', 'requestId', 'method', 'route', 'path', 'client', 'status', 'durationMs', 'cache', 'upstreamStatus', 'upstreamMs', 'msg'])
  t.match(lines[0], {
    level: 30,
    msg: 'request',
    method: 'GET',
    route: '/payment-links/:id',
    path: `/payment-links/${ACTIVE_ID}`,
    client: '127.0.0.1',
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

/**
 * Sends a GET of `target` on a connection of its own, and closes that
 * connection while Kopo Kopo holds its answer to the `call` the request made;
 * then lets Kopo Kopo answer, and waits (at most about 2 s) for the log line.
 */
async function giveUp ({ app, fake, logs }: Pick<TestApp, 'app' | 'fake' | 'logs'>, call: 'status' | 'token', target: string, requestId: string): Promise<void> {
  const held = gate()
  fake.enqueue(call, { until: held.promise })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const socket = connect((app.server.address() as { port: number }).port, '127.0.0.1')
  socket.write(`GET ${target} HTTP/1.1\r\nHost: bff\r\nX-Request-Id: ${requestId}\r\n\r\n`)
  await fake.received(call, 1)
  socket.destroy()
  const connections = async () => await new Promise<number>(resolve => app.server.getConnections((_err, count) => resolve(count)))
  while (await connections() > 0) await new Promise(resolve => setImmediate(resolve))
  held.open()
  for (let i = 0; i < 200 && !logs.lines.some(l => l.requestId === requestId); i++) await new Promise(resolve => setTimeout(resolve, 10))
}

t.test('a client that gives up before the answer is logged and counted once, as 499', async t => {
  const { app, fake, logs } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await giveUp({ app, fake, logs }, 'status', `/payment-links/${ACTIVE_ID}?session=secret-in-query`, 'gave-up-1')
  // The answer Kopo Kopo sent is stored all the same, for the next poll.
  t.equal((await app.inject(`/payment-links/${ACTIVE_ID}`)).headers['cache-status'], 'k2-bff; hit; ttl=3')
  t.match(logs.lines.filter(l => l.requestId === 'gave-up-1'), [{
    level: 30,
    msg: 'request',
    method: 'GET',
    route: '/payment-links/:id',
    path: `/payment-links/${ACTIVE_ID}`,
    client: '127.0.0.1',
    status: 499,
    abandoned: true,
    durationMs: Number,
    cache: 'k2-bff; fwd=miss; stored',
    upstreamStatus: 200
  }])
  t.equal(logs.lines.filter(l => l.requestId === 'gave-up-1').length, 1, 'once')
  t.notMatch(logs.text, 'secret-in-query', 'the query is never logged')
  t.equal(sample(await app.metrics.registry.getSingleMetricAsString('k2bff_http_requests_total'),
    'k2bff_http_requests_total{route="/payment-links/:id",method="GET",status="499"}'), 1)
})

t.test('a readiness probe that gives up while the token is fetched is logged and counted once, as 499', async t => {
  const { app, fake, logs } = await buildTestApp(t)
  await giveUp({ app, fake, logs }, 'token', '/health/ready', 'gave-up-ready')
  t.match(logs.lines.filter(l => l.requestId === 'gave-up-ready'), [{ msg: 'request', route: '/health/ready', status: 499, abandoned: true }])
  t.equal(sample(await app.metrics.registry.getSingleMetricAsString('k2bff_http_requests_total'),
    'k2bff_http_requests_total{route="/health/ready",method="GET",status="499"}'), 1)
})

t.test('the client in the log is the one the rate limit sees: a forwarded address only from a trusted proxy', async t => {
  const forwarded = { 'x-forwarded-for': '203.0.113.7, 198.51.100.2' }
  for (const [env, client] of [[{}, '127.0.0.1'], [{ TRUST_PROXY: 'true' }, '203.0.113.7'], [{ TRUST_PROXY: '1' }, '198.51.100.2']] as const) {
    const { app, fake, logs } = await buildTestApp(t, env)
    fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
    await app.inject({ url: `/payment-links/${ACTIVE_ID}`, headers: { ...forwarded, 'x-request-id': 'found' } })
    await app.inject({ url: '/payment-links/not-a-uuid', headers: { ...forwarded, 'x-request-id': 'refused' } })
    await app.inject({ url: '/nowhere', headers: { ...forwarded, 'x-request-id': 'unmatched' } })
    for (const requestId of ['found', 'refused', 'unmatched']) {
      t.equal(logs.lines.find(l => l.requestId === requestId && l.msg === 'request')?.client, client, `${JSON.stringify(env)}: ${requestId}`)
    }
  }
  // Trusting every proxy, the client names itself: whatever it writes, the log keeps 64 characters of it.
  const { app, logs } = await buildTestApp(t, { TRUST_PROXY: 'true' })
  const forged = `"}{${'x'.repeat(8000)}`
  await app.inject({ url: '/payment-links/not-a-uuid', headers: { 'x-forwarded-for': `${forged}, 198.51.100.2`, 'x-request-id': 'forged' } })
  t.equal(logs.lines.find(l => l.requestId === 'forged' && l.msg === 'request')?.client, forged.slice(0, 64))
})

t.test('no upstream figures in the log when no call went out (circuit open)', async t => {
  const { app, fake, logs } = await buildTestApp(t, { UPSTREAM_RETRIES: '0', CIRCUIT_FAILURE_THRESHOLD: '1' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.always('status', { status: 500 })
  await app.inject({ url: `/payment-links/${ACTIVE_ID}`, headers: { 'x-request-id': 'failed-1' } })
  await app.inject({ url: `/payment-links/${ACTIVE_ID}`, headers: { 'x-request-id': 'open-1' } })
  t.match(logs.lines.find(l => l.requestId === 'failed-1' && l.msg === 'request'), { status: 502, upstreamStatus: 500, upstreamMs: Number })
  const open = logs.lines.find(l => l.requestId === 'open-1' && l.msg === 'request')
  t.match(open, { status: 503, cache: 'k2-bff; detail=circuit-open' })
  t.notOk('upstreamMs' in (open ?? {}), 'the open circuit sent nothing')
  t.equal(fake.calls('status').length, 1)
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
