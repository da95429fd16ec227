import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

t.test('live is 200 while the process runs', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.always('token', { status: 500 })
  const res = await app.inject('/health/live')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
})

t.test('ready: 200 once a token is held or can be obtained', async t => {
  const { app, fake } = await buildTestApp(t)
  const first = await app.inject('/health/ready')
  t.equal(first.statusCode, 200)
  t.same(first.json(), { status: 'ok', upstream: 'kopokopo' })
  await app.inject('/health/ready')
  t.equal(fake.calls('token').length, 1, 'a held token answers without calling upstream')
})

t.test('ready: 503 when no token can be had (and the log says why), and again 200 when it can', async t => {
  const { app, fake, logs } = await buildTestApp(t, { UPSTREAM_RETRIES: '0' })
  fake.enqueue('token', { status: 503, body: '{"error":"temporarily_unavailable"}' })
  const down = await app.inject('/health/ready')
  t.equal(down.statusCode, 503)
  t.same(down.json(), { status: 'unavailable', upstream: 'kopokopo' })
  t.match(logs.lines.find(l => l.requestId === down.headers['x-request-id'] && l.level === 40), {
    msg: 'not ready: The Kopo Kopo token endpoint answered 503.', code: 'UPSTREAM_BAD_RESPONSE', upstreamStatus: 503, reason: 'temporarily_unavailable'
  })
  t.equal((await app.inject('/health/ready')).statusCode, 200)
})

t.test('ready: 503 "draining" once shutdown has begun, while other routes still answer', async t => {
  const { app } = await buildTestApp(t)
  t.equal((await app.inject('/health/ready')).statusCode, 200)
  t.equal(app.draining, false)
  app.startDraining()
  t.equal(app.draining, true)
  const res = await app.inject('/health/ready')
  t.equal(res.statusCode, 503)
  t.same(res.json(), { status: 'draining', upstream: 'kopokopo' })
  t.equal((await app.inject('/health/live')).statusCode, 200)
})

t.test('ready: once a token has been had, Kopo Kopo failing does not make the instance unready', async t => {
  const { app, fake, clock } = await buildTestApp(t, { UPSTREAM_RETRIES: '0' })
  t.equal((await app.inject('/health/ready')).statusCode, 200)
  fake.always('token', { status: 500 })
  clock.advance(2 * 3600_000)
  const res = await app.inject('/health/ready')
  t.equal(res.statusCode, 200, 'the token expired and cannot be renewed, and the instance still answers')
  t.same(res.json(), { status: 'ok', upstream: 'kopokopo' })
  t.equal(fake.calls('token').length, 1, 'the probe does not call Kopo Kopo again')
})
