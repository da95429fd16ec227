import t from 'tap'
import { backoffMs, parseRetryAfterMs } from '../../src/kopokopo/retry.js'
import { upstreamMessage } from '../../src/kopokopo/schemas.js'
import { ACTIVE_ID, buildTestApp, problem } from '../helpers/app.js'
import { gate, upstreamLink } from '../helpers/fake-kopokopo.js'

const url = `/payment-links/${ACTIVE_ID}`

t.test('an upstream slower than the deadline is a 504', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_TIMEOUT_MS: '150' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await app.inject(url.replace(ACTIVE_ID, '00000000-0000-4000-8000-000000000000')) // gets a token
  fake.always('status', { delayMs: 1000 })
  const res = await app.inject(url)
  t.equal(res.statusCode, 504)
  t.same(res.json(), problem(res, 'upstream-timeout', 'Kopo Kopo did not answer in time', 504, 'Kopo Kopo did not answer within 150 ms.'))
  t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; detail=timeout')
})

t.test('a body that keeps trickling in is cut off at the deadline, not only when it goes idle', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_TIMEOUT_MS: '300' })
  await app.inject(url.replace(ACTIVE_ID, '00000000-0000-4000-8000-000000000000')) // gets a token
  // A byte every 20 ms: undici's idle timeouts never fire; only the deadline's abort ends this.
  fake.always('status', { status: 200, trickleMs: 20 })
  const res = await app.inject(url)
  t.equal(res.statusCode, 504)
  t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; detail=timeout')
})

t.test('a slow token endpoint counts against the same deadline', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_TIMEOUT_MS: '150' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.always('token', { delayMs: 1000 })
  const res = await app.inject(url)
  t.equal(res.statusCode, 504)
  t.equal(fake.calls('status').length, 0)
})

t.test('5xx then success: retried with backoff, attempts counted', async t => {
  const { app, fake, sleeps } = await buildTestApp(t, { UPSTREAM_RETRIES: '2' }, { random: () => 0.5 })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.enqueue('status', { status: 503 }, { status: 502, body: '<html>bad gateway</html>' })
  const res = await app.inject(url)
  t.equal(res.statusCode, 200)
  t.equal(fake.calls('status').length, 3)
  t.same(sleeps, [50, 100], 'full jitter over 100 ms, then 200 ms')
  // The others of the kind: 500 and 504 (a proxy's timeout in front of Kopo Kopo).
  fake.enqueue('status', { status: 500 }, { status: 504 })
  t.equal((await app.inject('/payment-links/bbbbbbbb-0000-4000-8000-000000000001')).statusCode, 404, 'answered after both')
  t.equal(fake.calls('status').length, 6)
})

t.test('retries run out: 502 naming the upstream status, never its body', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_RETRIES: '2' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.always('status', { status: 500, body: '{"error_code":500,"error_message":"secret internals at line 42"}' })
  const res = await app.inject(url)
  t.equal(res.statusCode, 502)
  t.equal(fake.calls('status').length, 3)
  t.equal(res.json().detail, 'Kopo Kopo answered 500.')
  t.notMatch(res.body, 'internals')
  t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; fwd-status=500')
})

t.test('4xx other than 401 and 429 are not retried', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.always('status', { status: 400, body: '{"error_code":400,"error_message":"bad"}' })
  const res = await app.inject(url)
  t.equal(res.statusCode, 502)
  t.equal(fake.calls('status').length, 1)
})

t.test('connection resets are retried', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.enqueue('status', { reset: true }, { reset: true })
  const res = await app.inject(url)
  t.equal(res.statusCode, 200)
  t.equal(fake.calls('status').length, 3)
})

t.test('resets on every attempt: 502 problem, and the log says how the connection failed', async t => {
  const { app, fake, logs } = await buildTestApp(t)
  fake.always('status', { reset: true })
  const res = await app.inject(url)
  t.equal(res.statusCode, 502)
  t.equal(res.json().detail, 'Kopo Kopo could not be reached.')
  t.equal(fake.calls('status').length, 3)
  t.match(logs.lines.find(l => l.requestId === res.headers['x-request-id'] && l.level === 40),
    { msg: 'Kopo Kopo could not be reached.', reason: 'UND_ERR_SOCKET' })
})

t.test('a refused connection is told from a reset in the log', async t => {
  const { app, fake, logs } = await buildTestApp(t)
  // The fake's port, once it has closed: nothing listens there.
  await fake.close()
  const res = await app.inject(url)
  t.equal(res.statusCode, 502)
  t.match(logs.lines.find(l => l.requestId === res.headers['x-request-id'] && l.level === 40), { reason: 'ECONNREFUSED' })
})

t.test('429 with Retry-After is honoured when it fits in the deadline', async t => {
  const { app, fake, sleeps } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.enqueue('status', { status: 429, headers: { 'retry-after': '2' } })
  const res = await app.inject(url)
  t.equal(res.statusCode, 200)
  t.same(sleeps, [2000])
  t.equal(fake.calls('status').length, 2)
})

t.test('429s count towards opening the circuit, as 5xx do', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_RETRIES: '0', CIRCUIT_FAILURE_THRESHOLD: '2' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  // Without Retry-After: no pause of Kopo Kopo's own holds the calls back.
  fake.enqueue('status', { status: 429 }, { status: 429 })
  for (let i = 0; i < 2; i++) t.equal((await app.inject(url)).statusCode, 503)
  const held = await app.inject(url)
  t.equal(held.headers['cache-status'], 'k2-bff; detail=circuit-open')
  t.equal(fake.calls('status').length, 2, 'the third went nowhere')
})

t.test('Retry-After as an HTTP date', async t => {
  const { app, fake, sleeps, clock } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.enqueue('token', { status: 503, headers: { 'retry-after': new Date(clock.now() + 3000).toUTCString() } })
  const res = await app.inject(url)
  t.equal(res.statusCode, 200)
  t.same(sleeps, [3000])
  t.equal(fake.calls('token').length, 2, 'the token call is retried too')
})

t.test('a 429 that outlasts the deadline is a 503 with Retry-After', async t => {
  const { app, fake, sleeps } = await buildTestApp(t)
  fake.always('status', { status: 429, headers: { 'retry-after': '30' } })
  const res = await app.inject(url)
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '30')
  t.equal(res.json().type, 'urn:k2-bff:problem:upstream-unavailable')
  t.equal(fake.calls('status').length, 1)
  t.same(sleeps, [])
  t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; fwd-status=429')
})

t.test('a 503 whose Retry-After outlasts the deadline is a 503 with Retry-After; without one, a 502', async t => {
  const { app, fake, sleeps, clock } = await buildTestApp(t, { CIRCUIT_FAILURE_THRESHOLD: '100' })
  fake.always('status', { status: 503, headers: { 'retry-after': '20' } })
  const res = await app.inject(url)
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '20')
  t.equal(res.json().type, 'urn:k2-bff:problem:upstream-unavailable')
  t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; fwd-status=503')
  t.equal(fake.calls('status').length, 1, 'no retry that Kopo Kopo asked us not to make')
  t.same(sleeps, [])
  clock.advance(20_000)
  fake.always('status', { status: 503 })
  const plain = await app.inject(url)
  t.equal(plain.statusCode, 502, 'after its retries')
  t.equal(plain.headers['retry-after'], undefined)
  t.equal(fake.calls('status').length, 4)
})

t.test('Kopo Kopo\'s Retry-After reaches clients within 1 to 60 s: never "now", never for hours', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CIRCUIT_FAILURE_THRESHOLD: '100' })
  const cases: Array<[(now: number) => string, string]> = [
    [() => '0', '1'],
    [now => new Date(now - 45_000).toUTCString(), '1'],
    [() => 'garbage', '1'],
    [() => '99999999', '60'],
    [() => '9'.repeat(400), '60'],
    [now => new Date(now + 45_000).toUTCString(), '45']
  ]
  for (const [given, client] of cases) {
    const upstream = given(clock.now())
    fake.always('status', { status: 429, headers: { 'retry-after': upstream } })
    const res = await app.inject(url)
    t.equal(res.statusCode, 503, upstream)
    t.equal(res.headers['retry-after'], client, upstream)
    // Past the pause it imposed on every call (below).
    clock.advance(60_000)
  }
})

t.test('a Retry-After holds back every call to Kopo Kopo until it runs out, at most a minute', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CIRCUIT_FAILURE_THRESHOLD: '100', CACHE_TTL_MS: '1000' })
  const other = 'aaaaaaaa-0000-4000-8000-0000000000ff'
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.links.set(other, upstreamLink(other))
  t.equal((await app.inject(url)).statusCode, 200)
  clock.advance(2_000)
  fake.enqueue('status', { status: 429, headers: { 'retry-after': '30' } })
  t.equal((await app.inject(`/payment-links/${other}`)).statusCode, 503)
  const calls = fake.requests.length

  const paused = await app.inject(`/payment-links/${other}`)
  t.equal(paused.statusCode, 503)
  t.equal(paused.headers['retry-after'], '30')
  t.equal(paused.headers['cache-status'], 'k2-bff; detail=paused')
  t.same(paused.json(), problem(paused, 'upstream-unavailable', 'Kopo Kopo is unavailable', 503, 'Kopo Kopo asked for a pause in calls; try again later.'))
  const stale = await app.inject(url)
  t.equal(stale.statusCode, 200, 'what is cached stands in meanwhile')
  t.equal(stale.headers['cache-status'], 'k2-bff; fwd=stale; ttl=-1; detail=paused')
  clock.advance(10_000)
  t.equal((await app.inject(`/payment-links/${other}`)).headers['retry-after'], '20')
  t.equal(fake.requests.length, calls, 'nothing reached Kopo Kopo while it asked for quiet')

  clock.advance(20_000)
  t.equal((await app.inject(`/payment-links/${other}`)).statusCode, 200)
  t.equal(fake.requests.length, calls + 1)

  // A Retry-After of an hour holds calls back a minute: the next answer says again if it must.
  fake.enqueue('status', { status: 429, headers: { 'retry-after': '3600' } })
  t.equal((await app.inject(url)).statusCode, 503)
  clock.advance(59_000)
  t.equal((await app.inject(`/payment-links/${other}`)).headers['cache-status'], 'k2-bff; detail=paused')
  clock.advance(1_000)
  t.equal((await app.inject(`/payment-links/${other}`)).statusCode, 200)
})

t.test('a client is told to come back when the open circuit lets calls out, when that is after Kopo Kopo\'s pause', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CIRCUIT_FAILURE_THRESHOLD: '1', CIRCUIT_RESET_MS: '10000', UPSTREAM_RETRIES: '0' })
  const other = 'aaaaaaaa-0000-4000-8000-0000000000ff'
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.links.set(other, upstreamLink(other))
  fake.enqueue('status', { status: 429, headers: { 'retry-after': '2' } })
  const told = await app.inject(url)
  t.equal(told.statusCode, 503)
  t.equal(told.headers['retry-after'], '10', 'the 429 opened the circuit for 10 s, longer than the 2 s asked')
  const paused = await app.inject(`/payment-links/${other}`)
  t.equal(paused.headers['cache-status'], 'k2-bff; detail=paused')
  t.equal(paused.headers['retry-after'], '10', 'held by the pause, and after it by the circuit')
  clock.advance(2_000)
  const open = await app.inject(`/payment-links/${other}`)
  t.equal(open.headers['cache-status'], 'k2-bff; detail=circuit-open')
  t.equal(open.headers['retry-after'], '8')
  clock.advance(8_000)
  t.equal((await app.inject(`/payment-links/${other}`)).statusCode, 200, 'the probe')
  t.equal(fake.calls('status').length, 2)
})

t.test('a request back from its own Retry-After is still held by a longer pause asked for meanwhile', async t => {
  const a = 'aaaaaaaa-0000-4000-8000-00000000000a'
  const c = 'aaaaaaaa-0000-4000-8000-00000000000c'
  // A 429 asking for 1 s, and a 503 whose Retry-After of 0 asks for no pause of its own.
  for (const own of [{ status: 429, headers: { 'retry-after': '1' } }, { status: 503, headers: { 'retry-after': '0' } }]) {
    const { app, fake, sleeps } = await buildTestApp(t, { CIRCUIT_FAILURE_THRESHOLD: '100', UPSTREAM_RETRIES: '2' })
    fake.links.set(a, upstreamLink(a))
    fake.links.set(c, upstreamLink(c))
    const held = gate()
    // a's first call is answered only once c's has been told to keep quiet for 30 s.
    fake.enqueue('status', { ...own, until: held.promise }, { status: 429, headers: { 'retry-after': '30' } })
    const first = app.inject(`/payment-links/${a}`)
    await fake.received('status', 1)
    const other = await app.inject(`/payment-links/${c}`)
    t.equal(other.headers['retry-after'], '30', `${own.status}: Kopo Kopo asked for 30 s of quiet`)
    held.open()
    const res = await first
    t.same(sleeps, [Number(own.headers['retry-after']) * 1000], `${own.status}: a waited out its own Retry-After`)
    t.equal(res.statusCode, 503, `${own.status}: then the pause held it back`)
    t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; detail=paused')
    t.equal(fake.calls('status').length, 2, `${own.status}: no call went out during the pause`)
  }
})

t.test('a request whose status call went out says fwd even when the token renewal after its 401 is held back', async t => {
  const { app, fake } = await buildTestApp(t, { CIRCUIT_FAILURE_THRESHOLD: '100' })
  const other = 'aaaaaaaa-0000-4000-8000-0000000000ff'
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.links.set(other, upstreamLink(other))
  t.equal((await app.inject(`/payment-links/${other}`)).statusCode, 200, 'a token')
  fake.revoke('test-token-1')
  const held = gate()
  fake.enqueue('status', { until: held.promise }, { status: 429, headers: { 'retry-after': '30' } })
  const first = app.inject(url)
  await fake.received('status', 2)
  // Kopo Kopo asks for 30 s of quiet; then the held call is answered 401, and no new token may be fetched.
  t.equal((await app.inject('/payment-links/aaaaaaaa-0000-4000-8000-0000000000fe')).statusCode, 503)
  held.open()
  const res = await first
  t.equal(res.statusCode, 503)
  t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; detail=paused')
  t.equal(fake.calls('token').length, 1, 'no token call went out')
})

t.test('garbage, truncated and wrongly shaped JSON are 502', async t => {
  const { app, fake, logs } = await buildTestApp(t, { CACHE_TTL_MS: '0' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const body = JSON.stringify(upstreamLink(ACTIVE_ID))
  const cases = [
    { fault: { status: 200, body: 'not json at all' }, detail: 'Kopo Kopo sent an answer that is not JSON.' },
    { fault: { status: 200, body: body.slice(0, 100) }, detail: 'Kopo Kopo sent an answer that is not JSON.' },
    { fault: { status: 200, body: '{"data":{"id":"x"}}' }, detail: 'Kopo Kopo sent a payment link of the wrong shape.', reason: '/data must have required properties attributes' },
    { fault: { status: 200, body: JSON.stringify(upstreamLink(ACTIVE_ID, { amount: true as unknown as number })) }, detail: 'Kopo Kopo sent a payment link of the wrong shape.', reason: '/data/attributes/amount must be string' },
    { fault: { status: 200, body: JSON.stringify(upstreamLink('cccccccc-0000-4000-8000-000000000000')) }, detail: 'Kopo Kopo sent a payment link of the wrong shape.', reason: '/data/id is another link\'s' }
  ]
  for (const c of cases) {
    fake.enqueue('status', c.fault)
    const res = await app.inject(url)
    t.equal(res.statusCode, 502)
    t.equal(res.json().detail, c.detail)
    // The log says where the answer went wrong: a field, never its value.
    const logged = logs.lines.find(l => l.requestId === res.headers['x-request-id'] && l.level === 40)
    t.equal(logged?.reason, c.reason, c.reason ?? c.detail)
  }
  fake.enqueue('status', { status: 200, body, truncate: true }, { status: 200, body, truncate: true }, { status: 200, body, truncate: true })
  const cut = await app.inject(url)
  t.equal(cut.statusCode, 502, 'a body cut off mid-way')
})

t.test('an upstream body declared over 1 MiB is refused unread', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_TIMEOUT_MS: '2000' })
  // Only the declaration arrives (then a space now and then): were the body
  // read, the answer would be the deadline's 504, not a refusal.
  fake.enqueue('status', { status: 200, headers: { 'content-length': String(2 * 1024 * 1024) }, trickleMs: 50 })
  const res = await app.inject(url)
  t.equal(res.statusCode, 502)
  t.equal(res.json().detail, 'Kopo Kopo sent an oversized answer.')
  t.equal(fake.calls('status').length, 1, 'not retried')
})

t.test('an error answer over 1 MiB is judged by its status, its body dropped unread', async t => {
  // Declared too large (then a space now and then), or chunked HTML past the cap.
  const declared = { headers: { 'content-length': String(2 * 1024 * 1024) }, trickleMs: 50 }
  const html = { body: `<html>${'x'.repeat(1024 * 1024)}</html>`, headers: { 'content-type': 'text/html', 'transfer-encoding': 'chunked' } }

  t.test('a 404 is a 404, and no failure of Kopo Kopo\'s', async t => {
    // With a threshold of 1, one failure would open the circuit and hold back the third call.
    const { app, fake } = await buildTestApp(t, { CIRCUIT_FAILURE_THRESHOLD: '1', CACHE_NOT_FOUND_TTL_MS: '0' })
    fake.enqueue('status', { status: 404, ...declared }, { status: 404, ...html })
    for (const how of ['declared', 'chunked']) {
      const res = await app.inject(url)
      t.equal(res.statusCode, 404, how)
      t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; fwd-status=404', how)
    }
    fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
    t.equal((await app.inject(url)).statusCode, 200, 'the circuit stayed closed')
    t.equal(fake.calls('status').length, 3)
  })

  t.test('a 503 is retried, and a 401 renews the token', async t => {
    const { app, fake } = await buildTestApp(t, { CACHE_TTL_MS: '0' })
    fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
    fake.enqueue('status', { status: 503, ...html })
    t.equal((await app.inject(url)).statusCode, 200, 'after a 503')
    t.equal(fake.calls('status').length, 2)
    t.equal(fake.calls('token').length, 1)
    fake.enqueue('status', { status: 401, ...declared })
    t.equal((await app.inject(url)).statusCode, 200, 'after a 401')
    t.equal(fake.calls('status').length, 4)
    t.equal(fake.calls('token').length, 2, 'a new token for the retry')
  })
})

t.test('Cache-Status says fwd only when a call went out: a retry the circuit held back is still a forwarded miss', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_RETRIES: '2', CIRCUIT_FAILURE_THRESHOLD: '1' })
  fake.always('status', { status: 500 })
  const opened = await app.inject(url)
  t.equal(opened.statusCode, 503, 'the first attempt opened the circuit, which held back the retry')
  t.equal(opened.headers['cache-status'], 'k2-bff; fwd=miss; detail=circuit-open')
  t.equal(fake.calls('status').length, 1)
  const held = await app.inject(url)
  t.equal(held.headers['cache-status'], 'k2-bff; detail=circuit-open', 'nothing went forward')
  t.equal(fake.calls('status').length, 1)
})

t.test('circuit breaker: opens after consecutive failures, probes once after the reset time, closes on success', async t => {
  const { app, fake, clock } = await buildTestApp(t, {
    UPSTREAM_RETRIES: '0', CIRCUIT_FAILURE_THRESHOLD: '3', CIRCUIT_RESET_MS: '10000', CACHE_TTL_MS: '0'
  })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await app.inject(url)
  fake.always('status', { status: 500 })
  for (let i = 0; i < 3; i++) t.equal((await app.inject(url)).statusCode, 502)
  t.equal(fake.calls('status').length, 4)

  const open = await app.inject(url)
  t.equal(open.statusCode, 503)
  t.equal(open.headers['retry-after'], '10')
  t.equal(open.headers['cache-status'], 'k2-bff; detail=circuit-open')
  t.equal(fake.calls('status').length, 4, 'no call while open')

  clock.advance(10_000)
  t.equal((await app.inject(url)).statusCode, 502, 'the probe fails')
  t.equal(fake.calls('status').length, 5)
  t.equal((await app.inject(url)).statusCode, 503, 'reopened')
  t.equal(fake.calls('status').length, 5)

  clock.advance(10_000)
  fake.always('status', undefined)
  t.equal((await app.inject(url)).statusCode, 200, 'the probe succeeds')
  t.equal((await app.inject(url)).statusCode, 200, 'closed again')
  t.equal(fake.calls('status').length, 7)
})

t.test('circuit breaker: each change of state is logged once, not each request it refuses', async t => {
  const { app, fake, clock, logs } = await buildTestApp(t, {
    UPSTREAM_RETRIES: '0', CIRCUIT_FAILURE_THRESHOLD: '3', CIRCUIT_RESET_MS: '10000', CACHE_TTL_MS: '0'
  })
  const circuitLines = () => logs.lines
    .filter(l => String(l.msg).startsWith('circuit'))
    .map(({ time: _time, pid: _pid, hostname: _hostname, ...line }) => line)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await app.inject(url)
  fake.always('status', { status: 500 })
  for (let i = 0; i < 3; i++) await app.inject(url)
  const opened = { level: 40, consecutiveFailures: 3, openForMs: 10_000, msg: 'circuit opened: no calls to Kopo Kopo until a probe' }
  t.same(circuitLines(), [opened])
  for (let i = 0; i < 3; i++) t.equal((await app.inject(url)).statusCode, 503)
  t.same(circuitLines(), [opened], 'nothing per refused request')

  clock.advance(10_000)
  t.equal((await app.inject(url)).statusCode, 502, 'the probe fails')
  const reopened = { level: 40, consecutiveFailures: 4, openForMs: 10_000, msg: 'circuit reopened: the probe failed' }
  t.same(circuitLines(), [opened, reopened])

  clock.advance(10_000)
  fake.always('status', undefined)
  t.equal((await app.inject(url)).statusCode, 200, 'the probe succeeds')
  t.equal((await app.inject(url)).statusCode, 200)
  t.same(circuitLines(), [opened, reopened, { level: 30, msg: 'circuit closed: the probe succeeded' }])
})

t.test('circuit breaker: a call sent before the circuit opened neither closes it nor decides the probe', async t => {
  const { app, fake, clock } = await buildTestApp(t, {
    UPSTREAM_RETRIES: '0', CIRCUIT_FAILURE_THRESHOLD: '3', CIRCUIT_RESET_MS: '10000', CACHE_TTL_MS: '0'
  })
  const id = (n: number) => `eeeeeeee-0000-4000-8000-${String(n).padStart(12, '0')}`
  for (let i = 0; i < 8; i++) fake.links.set(id(i), upstreamLink(id(i)))
  await app.inject(`/payment-links/${id(0)}`)
  const first = gate()
  const second = gate()
  fake.enqueue('status', { until: first.promise }, { until: second.promise })
  const earlyA = app.inject(`/payment-links/${id(1)}`)
  const earlyB = app.inject(`/payment-links/${id(2)}`)
  await fake.received('status', 3) // both on their way while the circuit is closed
  fake.always('status', { status: 500 })
  for (let i = 3; i < 6; i++) t.equal((await app.inject(`/payment-links/${id(i)}`)).statusCode, 502)
  t.equal((await app.inject(`/payment-links/${id(6)}`)).headers['cache-status'], 'k2-bff; detail=circuit-open')

  first.open()
  t.equal((await earlyA).statusCode, 200, 'the early call succeeds')
  const stillOpen = await app.inject(`/payment-links/${id(6)}`)
  t.equal(stillOpen.headers['cache-status'], 'k2-bff; detail=circuit-open', 'and leaves the circuit open')
  t.equal(stillOpen.headers['retry-after'], '10')
  t.equal(fake.calls('status').length, 6, 'no call while open')

  clock.advance(10_000)
  fake.always('status', undefined)
  const probeAnswer = gate()
  fake.enqueue('status', { status: 500, until: probeAnswer.promise })
  const probe = app.inject(`/payment-links/${id(7)}`)
  await fake.received('status', 7)
  second.open()
  t.equal((await earlyB).statusCode, 200, 'the other early call succeeds while the probe is out')
  t.equal((await app.inject(`/payment-links/${id(6)}`)).headers['cache-status'], 'k2-bff; detail=circuit-open',
    'only the probe decides')
  probeAnswer.open()
  t.equal((await probe).statusCode, 502, 'the probe fails')
  t.equal((await app.inject(`/payment-links/${id(6)}`)).headers['cache-status'], 'k2-bff; detail=circuit-open', 'reopened')
  t.equal(fake.calls('status').length, 7)
})

t.test('circuit open: a stale answer is served when there is one', async t => {
  const { app, fake, clock } = await buildTestApp(t, { UPSTREAM_RETRIES: '0', CIRCUIT_FAILURE_THRESHOLD: '1' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const first = await app.inject(url)
  clock.advance(3000)
  fake.always('status', { status: 502 })
  t.equal((await app.inject(url)).headers['cache-status'], 'k2-bff; fwd=stale; ttl=-1; fwd-status=502', 'stale from its TTL\'s last millisecond: never ttl=0')
  clock.advance(2000)
  const stale = await app.inject(url)
  t.equal(stale.statusCode, 200)
  t.equal(stale.body, first.body)
  t.equal(stale.headers['cache-status'], 'k2-bff; fwd=stale; ttl=-2; detail=circuit-open')
  t.equal(fake.calls('status').length, 2, 'the open circuit made no call')
})

t.test('token-call failures count toward the circuit too', async t => {
  const { app, fake, clock } = await buildTestApp(t, { UPSTREAM_RETRIES: '0', CIRCUIT_FAILURE_THRESHOLD: '2', CIRCUIT_RESET_MS: '10000' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.always('token', { status: 500 })
  for (let i = 0; i < 2; i++) t.equal((await app.inject(url)).statusCode, 502)
  t.equal(fake.calls('token').length, 2)
  const open = await app.inject(url)
  t.equal(open.statusCode, 503)
  t.equal(open.headers['retry-after'], '10')
  t.equal(fake.calls('token').length, 2, 'no token call while open')
  clock.advance(10_000)
  fake.always('token', undefined)
  t.equal((await app.inject(url)).statusCode, 200, 'the probe gets a token and closes the circuit')
  t.equal(fake.calls('status').length, 1)
})

t.test('404s and bad ids do not open the circuit', async t => {
  const { app, fake } = await buildTestApp(t, { CIRCUIT_FAILURE_THRESHOLD: '2', CACHE_NOT_FOUND_TTL_MS: '0' })
  for (let i = 0; i < 5; i++) t.equal((await app.inject(url)).statusCode, 404)
  for (const bad of ['not-a-uuid', `${ACTIVE_ID}x`, '%E2%80%AE']) t.equal((await app.inject(`/payment-links/${bad}`)).statusCode, 400)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  t.equal((await app.inject(url)).statusCode, 200)
})

t.test('backoff and Retry-After parsing', async t => {
  t.equal(backoffMs(0, () => 0.999), 99)
  t.equal(backoffMs(1, () => 0.999), 199)
  t.equal(backoffMs(10, () => 0.999), 999, 'capped at 1 s')
  t.equal(backoffMs(3, () => 0), 0)
  const now = Date.parse('2026-06-01T09:00:00Z')
  t.equal(parseRetryAfterMs('5', now), 5000)
  t.equal(parseRetryAfterMs('Mon, 01 Jun 2026 09:00:07 GMT', now), 7000)
  t.equal(parseRetryAfterMs('Mon, 01 Jun 2026 08:00:00 GMT', now), 0, 'a date in the past means now')
  t.equal(parseRetryAfterMs('soon', now), undefined)
  t.equal(parseRetryAfterMs('-5', now), undefined, 'not a date in 2001')
  t.equal(parseRetryAfterMs('1.5', now), undefined)
  t.equal(parseRetryAfterMs('Monday, 01-Jun-26 09:00:07 GMT', now), 7000, 'RFC 850 form')
  t.equal(parseRetryAfterMs('Mon Jun  1 09:00:07 2026', now), 7000, 'asctime form')
  t.equal(parseRetryAfterMs(undefined, now), undefined)
  // What Date.parse alone would read: a day name and a number as now, a zone other than GMT.
  t.equal(parseRetryAfterMs('Mon 5', now), undefined)
  t.equal(parseRetryAfterMs('Mon, 01 Jun 2026 09:00:07 EST', now), undefined)
  t.equal(parseRetryAfterMs('Mon, 1 Jun 2026 09:00:07 GMT', now), undefined, 'IMF-fixdate has two-digit days')
  // asctime names no zone, and HTTP dates are GMT whatever the server's zone is.
  const zone = process.env.TZ
  process.env.TZ = 'Africa/Nairobi'
  t.teardown(() => { if (zone === undefined) delete process.env.TZ; else process.env.TZ = zone })
  t.equal(new Date(now).getHours(), 12, 'the zone took effect')
  t.equal(parseRetryAfterMs('Mon Jun  1 09:00:07 2026', now), 7000, 'asctime in GMT')
})

t.test('a JSON answer led by a byte-order mark is read', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.enqueue('status', { status: 200, body: '\ufeff' + JSON.stringify(upstreamLink(ACTIVE_ID)) })
  const res = await app.inject(url)
  t.equal(res.statusCode, 200)
  t.equal(res.json().id, ACTIVE_ID)
})

t.test('a body in many chunks is put together whole, whatever the chunk size', async t => {
  const { app, fake } = await buildTestApp(t, { CACHE_TTL_MS: '0' })
  // Across the copy's first size (16 KiB) and its doublings, up to the cap.
  for (const [noteBytes, chunkBytes] of [[10, 7], [40_000, 1], [300_000, 4093], [1024 * 1024 - 1000, 65_536]] as const) {
    const note = 'n'.repeat(noteBytes)
    const body = JSON.stringify(upstreamLink(ACTIVE_ID, { note }))
    fake.enqueue('status', { status: 200, body, chunkBytes })
    const res = await app.inject(url)
    t.equal(res.statusCode, 200, `${body.length} bytes in chunks of ${chunkBytes}`)
    t.equal(res.json().note, note)
  }
})

t.test('an oversized body without Content-Length is cut off while reading', async t => {
  const { app, fake } = await buildTestApp(t)
  const big = JSON.stringify(upstreamLink(ACTIVE_ID, { note: 'y'.repeat(1024 * 1024) }))
  fake.enqueue('status', { status: 200, body: big, headers: { 'transfer-encoding': 'chunked' } })
  const res = await app.inject(url)
  t.equal(res.statusCode, 502)
  t.equal(res.json().detail, 'Kopo Kopo sent an oversized answer.')
  t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; fwd-status=200')
})

t.test('what Kopo Kopo said in an error answer, for the log: documented fields only, short, one line', async t => {
  const said = (body: string) => upstreamMessage(Buffer.from(body), ['s3cret-token'])
  t.equal(said('{"error_code":422,"error_message":"Amount too low","error":"x"}'), 'Amount too low')
  t.equal(said('{"error":"invalid_client","error_description":"Client authentication failed"}'), 'invalid_client: Client authentication failed')
  t.equal(said('{"error_description":"only this"}'), 'only this')
  t.equal(said(`{"error_message":"line\\r\\nX-Injected: 1 ${'z'.repeat(300)}"}`), `line  X-Injected: 1 ${'z'.repeat(300)}`.slice(0, 200))
  t.equal(said('<html>Internal error</html>'), undefined, 'never a raw body')
  t.equal(said('null'), undefined)
  t.equal(said('{"error_message":42}'), undefined)
  t.equal(said('{"error_message":"bad token s3cret-token (s3cret-token)"}'), 'bad token [redacted] ([redacted])', 'what it was sent stays out')
})
