import t from 'tap'
import { ACTIVE_ID, buildTestApp, PAID_ID, problem, sample } from '../helpers/app.js'
import { gate, TEST_CLIENT_ID, upstreamLink } from '../helpers/fake-kopokopo.js'

const ids = Array.from({ length: 20 }, (_, i) => `bbbbbbbb-0000-4000-8000-${String(i).padStart(12, '0')}`)

t.test('N concurrent requests share one token fetch', async t => {
  const { app, fake } = await buildTestApp(t)
  for (const id of ids) fake.links.set(id, upstreamLink(id))
  // The token is held until the test has seen its call. The other requests
  // need no I/O to reach the token provider, so they are all waiting there
  // before the token, released only then, can come back.
  const answers = await fake.holdUntilReceived('token', 1, () => ids.map(async id => await app.inject(`/payment-links/${id}`)))
  t.ok(answers.every(a => a.statusCode === 200))
  t.equal(fake.calls('token').length, 1)
  t.equal(fake.calls('status').length, ids.length)
  t.ok(fake.calls('status').every(r => r.headers.authorization === 'Bearer test-token-1'))
})

t.test('the token is renewed shortly before expires_in runs out', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CACHE_TTL_MS: '0' })
  fake.tokenTtlSeconds = 3600
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await app.inject(`/payment-links/${ACTIVE_ID}`)
  clock.advance(3600_000 - 61_000)
  await app.inject(`/payment-links/${ACTIVE_ID}`)
  t.equal(fake.calls('token').length, 1, 'still valid 61 s before expiry')
  clock.advance(2_000)
  await app.inject(`/payment-links/${ACTIVE_ID}`)
  await fake.received('token', 2)
  t.pass('renewed inside the last minute')
  // Past the old token's expiry: whether or not its renewal has come back yet, the new one is used.
  clock.advance(60_000)
  await app.inject(`/payment-links/${ACTIVE_ID}`)
  t.same(fake.calls('status').map(r => r.headers.authorization),
    ['Bearer test-token-1', 'Bearer test-token-1', 'Bearer test-token-1', 'Bearer test-token-2'], 'the old token serves while its renewal runs')
  t.equal(fake.calls('token').length, 2)
})

t.test('a renewal that fails while the token is still good: requests go on with it, and renewals back off', async t => {
  const { app, fake, clock, logs } = await buildTestApp(t, { CACHE_TTL_MS: '0', UPSTREAM_RETRIES: '0' })
  fake.tokenTtlSeconds = 3600
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const lookup = async () => await app.inject(`/payment-links/${ACTIVE_ID}`)
  const failures = () => logs.lines.filter(l => l.msg === 'renewing the access token failed; the current one is used until it expires')
  t.equal((await lookup()).statusCode, 200)
  clock.advance(3600_000 - 30_000)
  fake.enqueue('token', { status: 500 }, { status: 500 })
  t.equal((await lookup()).statusCode, 200, 'answered with the token in hand')
  await fake.received('token', 2)
  t.match(await logs.waitFor(l => failures().includes(l)), { level: 40, expiresInMs: 30_000, retryInMs: 1000, code: 'UPSTREAM_BAD_RESPONSE', upstreamStatus: 500 })
  for (let i = 0; i < 5; i++) t.equal((await lookup()).statusCode, 200)
  t.equal(fake.calls('token').length, 2, 'no renewal before the back-off has passed')

  clock.advance(1_000)
  t.equal((await lookup()).statusCode, 200)
  await fake.received('token', 3)
  await logs.waitFor(() => failures().length === 2)
  t.match(failures()[1], { retryInMs: 2000 }, 'doubling')
  clock.advance(1_000)
  await lookup()
  t.equal(fake.calls('token').length, 3)
  clock.advance(1_000)
  await lookup()
  await fake.received('token', 4)
  // Past the old token's expiry: whether or not that renewal has come back yet, its token is used.
  clock.advance(30_000)
  await lookup()
  t.same(fake.calls('status').map(r => r.headers.authorization).slice(-2), ['Bearer test-token-1', 'Bearer test-token-2'])
  t.equal(fake.calls('status').length, 11)
  t.notMatch(logs.text, /test-token/, 'no token in the log')
})

t.test('short-lived tokens are renewed a tenth of their life early', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CACHE_TTL_MS: '0' })
  fake.tokenTtlSeconds = 100
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await app.inject(`/payment-links/${ACTIVE_ID}`)
  clock.advance(89_000)
  await app.inject(`/payment-links/${ACTIVE_ID}`)
  t.equal(fake.calls('token').length, 1)
  clock.advance(1_000)
  await app.inject(`/payment-links/${ACTIVE_ID}`)
  t.equal(fake.calls('token').length, 2)
})

t.test('a 401 drops the token, fetches a new one and retries once', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.links.set(PAID_ID, upstreamLink(PAID_ID))
  await app.inject(`/payment-links/${PAID_ID}`)
  fake.revoke('test-token-1')
  const res = await app.inject(`/payment-links/${ACTIVE_ID}`)
  t.equal(res.statusCode, 200)
  t.equal(fake.calls('token').length, 2)
  t.same(fake.calls('status').map(r => r.headers.authorization), ['Bearer test-token-1', 'Bearer test-token-1', 'Bearer test-token-2'])
})

t.test('concurrent 401s share one refresh', async t => {
  const { app, fake } = await buildTestApp(t)
  for (const id of ids) fake.links.set(id, upstreamLink(id))
  await app.inject(`/payment-links/${ids[0]}`)
  fake.revoke('test-token-1')
  // The refresh is held until every request has had its 401: each then asks
  // for a token with no I/O in between, so all ask while the refresh is out.
  const held = gate()
  fake.enqueue('token', { until: held.promise })
  const pending = ids.slice(1).map(async id => await app.inject(`/payment-links/${id}`))
  const unauthorized = async () => sample(await app.metrics.registry.getSingleMetricAsString('k2bff_upstream_requests_total'),
    'k2bff_upstream_requests_total{call="status",outcome="unauthorized"}') ?? 0
  while (await unauthorized() < ids.length - 1) await new Promise(resolve => setImmediate(resolve))
  await fake.received('token', 2)
  held.open()
  const answers = await Promise.all(pending)
  t.ok(answers.every(a => a.statusCode === 200))
  t.equal(fake.calls('token').length, 2, 'one initial fetch, one refresh')
})

t.test('a 401 to a token just issued is a 502, and that token is kept', async t => {
  const { app, fake, logs } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.links.set(PAID_ID, upstreamLink(PAID_ID))
  fake.enqueue('status', ...Array.from({ length: 4 }, () => ({ status: 401, body: '{"error_code":401,"error_message":"Invalid access token"}' })))
  const res = await app.inject(`/payment-links/${ACTIVE_ID}`)
  t.equal(res.statusCode, 502)
  t.equal(res.json().type, 'urn:k2-bff:problem:upstream-auth-rejected')
  t.equal(res.json().detail, 'Kopo Kopo refused an access token it had just issued to this service; the operator has been alerted in the logs.')
  t.equal(fake.calls('status').length, 2, 'retried exactly once')
  t.equal(fake.calls('token').length, 2)
  t.notMatch(res.body, 'Invalid access token')
  t.match(logs.lines.find(l => l.requestId === res.headers['x-request-id'] && l.level === 40),
    { code: 'UPSTREAM_AUTH_REJECTED', upstreamStatus: 401, reason: 'Invalid access token' }, 'what Kopo Kopo said, in the log only')
  // A link Kopo Kopo keeps refusing costs one token fetch a request, not two.
  t.equal((await app.inject(`/payment-links/${ACTIVE_ID}`)).statusCode, 502)
  t.equal(fake.calls('token').length, 3)
  t.equal((await app.inject(`/payment-links/${PAID_ID}`)).statusCode, 200)
  t.equal(fake.calls('token').length, 3, 'the last fresh token was kept, and works')
  t.same(fake.calls('status').map(r => r.headers.authorization),
    ['Bearer test-token-1', 'Bearer test-token-2', 'Bearer test-token-2', 'Bearer test-token-3', 'Bearer test-token-3'])
})

t.test('a 401 for a token already replaced does not drop its replacement', async t => {
  const { app, fake } = await buildTestApp(t)
  for (const id of ids) fake.links.set(id, upstreamLink(id))
  t.equal((await app.inject(`/payment-links/${ids[0]}`)).statusCode, 200)
  fake.revoke('test-token-1')
  // A sends the revoked token; its 401 is held back while B gets its own 401,
  // the refresh, and its answer.
  const held = gate()
  fake.enqueue('status', { until: held.promise })
  const a = app.inject(`/payment-links/${ids[1]}`)
  await fake.received('status', 2)
  t.equal((await app.inject(`/payment-links/${ids[2]}`)).statusCode, 200)
  t.same(fake.issued, ['test-token-1', 'test-token-2'])
  held.open()
  t.equal((await a).statusCode, 200, 'A retries with the token B fetched')
  t.same(fake.issued, ['test-token-1', 'test-token-2'], 'A\'s late 401 did not throw the new token away')
  t.same(fake.calls('status').map(r => r.headers.authorization),
    ['Bearer test-token-1', 'Bearer test-token-1', 'Bearer test-token-1', 'Bearer test-token-2', 'Bearer test-token-2'])
})

t.test('rejected client credentials: 502 without a retry storm, and readiness fails', async t => {
  const { app, fake, logs } = await buildTestApp(t, { K2_CLIENT_SECRET: 'wrong-secret-value' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const res = await app.inject(`/payment-links/${ACTIVE_ID}`)
  t.equal(res.statusCode, 502)
  t.same(res.json(), problem(res, 'upstream-auth-rejected', 'Kopo Kopo rejected the service credentials', 502, 'Kopo Kopo refused this service\'s client credentials; the operator has been alerted in the logs.'))
  t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; fwd-status=401')
  t.equal(fake.calls('token').length, 1, '401 is not retried')
  t.equal(fake.calls('status').length, 0)
  t.match(logs.lines.find(l => l.requestId === res.headers['x-request-id'] && l.level === 40),
    { code: 'UPSTREAM_AUTH_REJECTED', upstreamStatus: 401, reason: 'invalid_client: Client authentication failed' })
  t.notMatch(logs.text, 'wrong-secret-value')
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 503)
})

t.test('refused credentials are told again without a call for 1 s, then 2 s, 4 s... up to a minute; an accepted fetch ends it', async t => {
  // Every request made a token call: a refusal is no failure to the circuit,
  // and nothing else slowed them.
  const { app, fake, clock, logs } = await buildTestApp(t, { UPSTREAM_RETRIES: '0', RATE_LIMIT_MAX: '1000' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.always('token', { status: 401, body: '{"error":"invalid_client","error_description":"Client authentication failed"}' })
  const lookup = async () => await app.inject(`/payment-links/${ACTIVE_ID}`)
  const first = await lookup()
  t.equal(first.headers['cache-status'], 'k2-bff; fwd=miss; fwd-status=401')
  const told = await lookup()
  t.equal(told.statusCode, 502)
  t.same(told.json(), problem(told, 'upstream-auth-rejected', 'Kopo Kopo rejected the service credentials', 502, 'Kopo Kopo refused this service\'s client credentials; the operator has been alerted in the logs.'))
  t.equal(told.headers['cache-status'], 'k2-bff; detail=credentials-refused', 'no call went out for it')
  t.match(logs.lines.find(l => l.requestId === told.headers['x-request-id'] && l.level === 40),
    { code: 'UPSTREAM_AUTH_REJECTED', upstreamStatus: 401, reason: 'invalid_client: Client authentication failed' })
  t.equal((await app.inject('/health/ready')).statusCode, 503, 'readiness hears the same refusal')
  t.equal(fake.calls('token').length, 1)
  // Each refusal doubles the wait before the next call: 1 s, 2 s, 4 s, ...
  const calls: number[] = []
  const statuses = new Set<number>()
  for (let second = 1; second <= 200; second++) {
    clock.advance(1000)
    statuses.add((await lookup()).statusCode)
    if (fake.calls('token').length > calls.length + 1) calls.push(second)
  }
  t.strictSame([...statuses], [502])
  t.strictSame(calls, [1, 3, 7, 15, 31, 63, 123, 183], 'calls after 1, 2, 4, 8, 16, 32, then every 60 s')
  t.equal(fake.calls('status').length, 0)

  fake.always('token', undefined)
  clock.advance(60_000)
  t.equal((await lookup()).statusCode, 200, 'accepted again')
  fake.always('token', { status: 401 })
  fake.revoke(fake.issued.at(-1)!)
  t.equal((await app.inject('/payment-links/aaaaaaaa-0000-4000-8000-0000000000ff')).statusCode, 502, 'the token refused, the credentials too')
  const calls2 = fake.calls('token').length
  clock.advance(1000)
  await app.inject('/payment-links/aaaaaaaa-0000-4000-8000-0000000000fe')
  t.equal(fake.calls('token').length, calls2 + 1, 'after an accepted fetch the wait starts again from 1 s')
})

t.test('refused early renewals, a token in hand, do not hold back the fetch once it has expired', async t => {
  // They had counted as refusals: a refused renewal in the token's last minute
  // left the requests after its expiry with a 502 and no call for a minute.
  const { app, fake, clock } = await buildTestApp(t, { CACHE_TTL_MS: '0', UPSTREAM_RETRIES: '0', RATE_LIMIT_MAX: '100000' })
  fake.tokenTtlSeconds = 3600
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const lookup = async () => await app.inject(`/payment-links/${ACTIVE_ID}`)
  t.equal((await lookup()).statusCode, 200)
  clock.advance(3600_000 - 60_000)
  fake.always('token', { status: 401 })
  const statuses = new Set<number>()
  for (let second = 0; second < 59; second++) {
    statuses.add((await lookup()).statusCode)
    clock.advance(1000)
  }
  t.strictSame([...statuses], [200], 'the token in hand serves while its renewals are refused')
  t.ok(fake.calls('token').length > 5, `${fake.calls('token').length - 1} renewals refused`)
  clock.advance(2000)
  fake.always('token', undefined)
  const calls = fake.calls('token').length
  const expired = await lookup()
  t.equal(expired.statusCode, 200, 'the first request with no token in hand fetches one')
  t.equal(fake.calls('token').length, calls + 1)
})

t.test('an error answer that echoes the token request does not bring the secret to the log, in any form it was sent', async t => {
  // Characters that change when the form body is encoded.
  const secret = 'not/so+secret=value &more'
  const { app, fake, logs, clock } = await buildTestApp(t, { K2_CLIENT_SECRET: secret, UPSTREAM_RETRIES: '0' })
  const sent = new URLSearchParams({ client_id: TEST_CLIENT_ID, client_secret: secret, grant_type: 'client_credentials' }).toString()
  const echo = JSON.stringify({ error: 'invalid_client', error_description: `bad request: ${sent}` })
  fake.enqueue('token', { status: 401, body: echo }, { status: 500, body: echo })
  t.equal((await app.inject(`/payment-links/${ACTIVE_ID}`)).statusCode, 502)
  // Past the second during which the refusal is told again without a call.
  clock.advance(1000)
  t.equal((await app.inject(`/payment-links/${ACTIVE_ID}`)).statusCode, 502)
  t.same(fake.calls('token').map(r => r.body), [sent, sent], 'the secret went out form-encoded')
  const reasons = logs.lines.filter(l => l.level === 40 && typeof l.reason === 'string').map(l => l.reason)
  t.equal(reasons.length, 2)
  for (const reason of reasons) t.match(reason, `invalid_client: bad request: client_id=${TEST_CLIENT_ID}&client_secret=[redacted]&grant_type`)
  for (const form of [secret, encodeURIComponent(secret), 'not%2Fso%2Bsecret%3Dvalue+%26more']) t.notMatch(logs.text, form)
})

t.test('a renewal no request waits on does not take the circuit\'s probe from a request holding a good token', async t => {
  const { app, fake, clock } = await buildTestApp(t, { UPSTREAM_RETRIES: '0', CIRCUIT_FAILURE_THRESHOLD: '1', CIRCUIT_RESET_MS: '10000' })
  fake.tokenTtlSeconds = 600 // renewed from 540 s on
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const none = '00000000-0000-4000-8000-000000000000'
  await app.inject(`/payment-links/${none}`) // the first token
  clock.advance(535_000)
  fake.enqueue('status', { status: 500 })
  t.equal((await app.inject(`/payment-links/${none}`)).statusCode, 502, 'the circuit opens')
  clock.advance(10_000) // the circuit lets a probe through; the token is due for renewal, and good for 55 s
  const res = await app.inject(`/payment-links/${ACTIVE_ID}`)
  t.equal(res.statusCode, 200, 'the request is the probe')
  t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; stored')
  t.equal(fake.calls('token').length, 1, 'the renewal waited')
  // The circuit closed: the next request renews the token, in the background.
  t.equal((await app.inject(`/payment-links/${PAID_ID}`)).statusCode, 404)
  await fake.received('token', 2)
  t.equal(fake.calls('token').length, 2)
})

t.test('while the token endpoint fails, concurrent requests share one attempt and its result', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_RETRIES: '0' })
  for (const id of ids) fake.links.set(id, upstreamLink(id))
  // The failure is held until the test has seen the call; the other requests
  // reach the token provider with no I/O, so all are waiting on that attempt.
  const answers = await fake.holdUntilReceived('token', 1, () => ids.map(async id => await app.inject(`/payment-links/${id}`)), { status: 500 })
  t.ok(answers.every(a => a.statusCode === 502))
  t.equal(fake.calls('token').length, 1)
  t.equal(fake.calls('status').length, 0)
})

t.test('a token answer of the wrong shape is a 502', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.enqueue('token', { status: 200, body: '{"access_token":"","expires_in":3600}' })
  const res = await app.inject(`/payment-links/${ACTIVE_ID}`)
  t.equal(res.statusCode, 502)
  t.equal(res.json().detail, 'The Kopo Kopo token endpoint sent an answer of the wrong shape.')
})

t.test('a token that could not be sent in a header is refused at the token call', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_RETRIES: '0' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.enqueue('token', { status: 200, body: JSON.stringify({ access_token: 'abc\r\nX-Injected: 1', token_type: 'Bearer', expires_in: 3600 }) })
  const refused = await app.inject(`/payment-links/${ACTIVE_ID}`)
  t.equal(refused.statusCode, 502)
  t.equal(refused.json().detail, 'The Kopo Kopo token endpoint sent an answer of the wrong shape.')
  t.equal(fake.calls('status').length, 0)
  t.equal((await app.inject(`/payment-links/${ACTIVE_ID}`)).statusCode, 200, 'nothing kept: the next request fetches a good one')
  t.same(fake.calls('status').map(r => r.headers.authorization), ['Bearer test-token-1'])
})

t.test('expires_in as text is read; without a usable one the token is taken to last 5 minutes', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CACHE_TTL_MS: '0' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const lookup = async () => await app.inject(`/payment-links/${ACTIVE_ID}`)
  const answers: Record<string, unknown> = {
    'tok-text': { access_token: 'tok-text', token_type: 'Bearer', expires_in: '600' },
    'tok-none': { access_token: 'tok-none', token_type: null },
    'tok-zero': { access_token: 'tok-zero', expires_in: 0 }
  }
  for (const [token, body] of Object.entries(answers)) {
    fake.issued.push(token)
    fake.enqueue('token', { status: 200, body: JSON.stringify(body) })
  }
  await lookup()
  clock.advance(600_000 - 61_000)
  await lookup()
  clock.advance(2_000) // inside the last minute of 600 s
  await lookup()
  clock.advance(300_000 - 31_000) // a default 300 s life, renewed 30 s early
  await lookup()
  clock.advance(2_000)
  await lookup()
  // Past tok-none's expiry, so the renewal begun above is waited for if it has not come back.
  clock.advance(30_000)
  await lookup()
  t.same(fake.calls('status').map(r => r.headers.authorization),
    ['Bearer tok-text', 'Bearer tok-text', 'Bearer tok-text', 'Bearer tok-none', 'Bearer tok-none', 'Bearer tok-zero'])
  t.equal(fake.calls('token').length, 3)
})

t.test('an expires_in that is null or not a number does not make the token unusable', async t => {
  for (const [token, expires] of [['tok-null', null], ['tok-words', 'one hour'], ['tok-object', { seconds: 3600 }]] as const) {
    const { app, fake } = await buildTestApp(t)
    fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
    fake.issued.push(token)
    fake.enqueue('token', { status: 200, body: JSON.stringify({ access_token: token, expires_in: expires }) })
    const res = await app.inject(`/payment-links/${ACTIVE_ID}`)
    t.equal(res.statusCode, 200, JSON.stringify(expires))
    t.same(fake.calls('status').map(r => r.headers.authorization), [`Bearer ${token}`])
  }
})
