import http from 'node:http'
import t from 'tap'
import { ACTIVE_ID, buildTestApp, problem, sample } from '../helpers/app.js'
import { upstreamLink } from '../helpers/fake-kopokopo.js'

const url = `/payment-links/${ACTIVE_ID}`
const KEY = 'test-api-key-0123456789'

t.test('the rate-limit headers reach Node as strings, on answers and on 429s', async t => {
  // A number would be converted by Node through V8's number-to-string cache,
  // which allocates in the old generation (see src/plugins/rate-limit.ts).
  const { app, fake } = await buildTestApp(t, { RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW_MS: '60000' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const handed: unknown[][] = []
  const writeHead = http.ServerResponse.prototype.writeHead
  t.teardown(() => { http.ServerResponse.prototype.writeHead = writeHead })
  http.ServerResponse.prototype.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
    const headers = args.at(-1) as Record<string, unknown>
    // Only the service's answers: the fake Kopo Kopo shares this process.
    if ('cache-status' in headers) handed.push(['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'].map(name => headers[name]))
    return Reflect.apply(writeHead, this, args) as http.ServerResponse
  } as typeof writeHead
  t.equal((await app.inject(url)).statusCode, 200)
  t.equal((await app.inject(url)).statusCode, 429)
  t.strictSame(handed, [['1', '0', '60'], ['1', '0', '60']])
})

t.test('over the rate limit: 429 problem with Retry-After and the rate-limit headers', async t => {
  const { app, fake } = await buildTestApp(t, { RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  t.equal((await app.inject(url)).headers['x-ratelimit-remaining'], '1')
  t.equal((await app.inject(url)).statusCode, 200)
  const limited = await app.inject(url)
  t.equal(limited.statusCode, 429)
  t.equal(limited.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.equal(limited.headers['retry-after'], '60')
  t.equal(limited.headers['x-ratelimit-limit'], '2')
  t.equal(limited.headers['x-ratelimit-remaining'], '0')
  t.equal(limited.headers['cache-status'], 'k2-bff; detail=rejected')
  t.same(limited.json(), problem(limited, 'rate-limited', 'Too many requests', 429, 'Request budget used up; try again in 60 s.'))
  t.equal((await app.inject('/nowhere')).statusCode, 429, 'unknown routes count too')
  for (const path of ['/health/live', '/health/ready', '/openapi.json', '/docs', '/docs/', '/docs/static/index.html']) {
    const res = await app.inject(path)
    t.not(res.statusCode, 429, path)
    t.notOk(res.headers['x-ratelimit-limit'], `${path} is not limited`)
  }
  t.equal(fake.calls('status').length, 1, 'limited requests never reach upstream')
  const metrics = await app.metrics.registry.getSingleMetricAsString('k2bff_rate_limited_total')
  t.equal(sample(metrics, 'k2bff_rate_limited_total'), 2)
})

t.test('clients are told apart by IP; a spoofed X-Forwarded-For changes nothing without TRUST_PROXY', async t => {
  const { app, fake } = await buildTestApp(t, { RATE_LIMIT_MAX: '1' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  t.equal((await app.inject({ url, remoteAddress: '192.0.2.1' })).statusCode, 200)
  t.equal((await app.inject({ url, remoteAddress: '192.0.2.1', headers: { 'x-forwarded-for': '198.51.100.7' } })).statusCode, 429)
  t.equal((await app.inject({ url, remoteAddress: '192.0.2.2' })).statusCode, 200, 'another client has its own budget')
  t.equal((await app.inject({ url, remoteAddress: '2001:db8:1:2::10' })).statusCode, 200)
  t.equal((await app.inject({ url, remoteAddress: '2001:db8:1:2::99' })).statusCode, 429, 'one IPv6 /64 is one client')
  t.equal((await app.inject({ url, remoteAddress: '2001:db8:1:3::10' })).statusCode, 200, 'another /64 is another')
})

t.test('behind a trusted proxy, X-Forwarded-For names the client', async t => {
  const { app, fake } = await buildTestApp(t, { RATE_LIMIT_MAX: '1', TRUST_PROXY: '10.0.0.0/8' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const via = (client: string, proxy = '10.1.2.3') => app.inject({ url, remoteAddress: proxy, headers: { 'x-forwarded-for': client } })
  t.equal((await via('198.51.100.7')).statusCode, 200)
  t.equal((await via('198.51.100.8')).statusCode, 200)
  t.equal((await via('198.51.100.7')).statusCode, 429)
  t.equal((await via('198.51.100.9', '192.0.2.50')).statusCode, 200, 'an untrusted peer is keyed by its own address')
  t.equal((await via('198.51.100.10', '192.0.2.50')).statusCode, 429, 'and cannot pick a new identity')
})

t.test('a client address a trusted proxy writes with its port is keyed without it', async t => {
  // Some proxies write the client's source port too; each connection of one
  // client would otherwise have a budget of its own.
  const { app, fake } = await buildTestApp(t, { RATE_LIMIT_MAX: '1', TRUST_PROXY: '10.0.0.0/8' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const via = (client: string) => app.inject({ url, remoteAddress: '10.1.2.3', headers: { 'x-forwarded-for': client } })
  t.equal((await via('198.51.100.7:51234')).statusCode, 200)
  t.equal((await via('198.51.100.7:51235')).statusCode, 429, 'another connection, the same client')
  t.equal((await via('198.51.100.7')).statusCode, 429, 'and without a port')
  t.equal((await via('[2001:db8:1:2::10]:443')).statusCode, 200)
  t.equal((await via('[2001:db8:1:2::99]:444')).statusCode, 429, 'a bracketed IPv6 address is keyed by its /64')
  t.equal((await via('[2001:db8:1:2::98]')).statusCode, 429, 'with or without a port')
  t.equal((await via('198.51.100.8:51234')).statusCode, 200, 'another address has its own budget')
})

t.test('with TRUST_PROXY=true, a budget is keyed by at most 64 characters of what a client wrote as its address', async t => {
  // 10,000 budgets keyed by 15 KB values ran the heap out.
  const { app, fake } = await buildTestApp(t, { RATE_LIMIT_MAX: '1', TRUST_PROXY: 'true' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const via = (client: string) => app.inject({ url, remoteAddress: '192.0.2.1', headers: { 'x-forwarded-for': client } })
  const written = 'x'.repeat(64)
  t.equal((await via(`${written}${'a'.repeat(8000)}`)).statusCode, 200)
  t.equal((await via(`${written}${'b'.repeat(8000)}`)).statusCode, 429, 'the same first 64 characters, the same budget')
  t.equal((await via(`${'x'.repeat(63)}y`)).statusCode, 200, 'another 64 characters, another budget')
})

t.test('RATE_LIMIT_CLIENTS bounds the budgets kept: the least recently seen client starts afresh', async t => {
  const { app, fake } = await buildTestApp(t, { RATE_LIMIT_MAX: '1', RATE_LIMIT_CLIENTS: '2' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const from = (remoteAddress: string) => app.inject({ url, remoteAddress })
  t.equal((await from('192.0.2.1')).statusCode, 200)
  t.equal((await from('192.0.2.1')).statusCode, 429)
  t.equal((await from('192.0.2.2')).statusCode, 200)
  t.equal((await from('192.0.2.1')).statusCode, 429, 'two clients fit: the first is still held to its budget')
  t.equal((await from('192.0.2.3')).statusCode, 200, 'a third pushes out the least recently seen, 192.0.2.2')
  t.equal((await from('192.0.2.2')).statusCode, 200, 'which starts afresh, pushing out 192.0.2.1')
  t.equal((await from('192.0.2.1')).statusCode, 200, 'and so on')
})

t.test('TRUST_PROXY as a hop count', async t => {
  const { app, fake } = await buildTestApp(t, { RATE_LIMIT_MAX: '1', TRUST_PROXY: '1' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const via = (xff: string) => app.inject({ url, remoteAddress: '10.9.9.9', headers: { 'x-forwarded-for': xff } })
  t.equal((await via('203.0.113.1, 198.51.100.7')).statusCode, 200)
  t.equal((await via('203.0.113.2, 198.51.100.7')).statusCode, 429, 'only the nearest hop is believed')
})

t.test('API keys: required when configured, by Bearer or X-API-Key', async t => {
  const { app, fake } = await buildTestApp(t, { API_KEYS: `${KEY},another-key-0123456789` })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const missing = await app.inject(url)
  t.equal(missing.statusCode, 401)
  t.equal(missing.headers['www-authenticate'], 'Bearer realm="k2-payment-links-bff"')
  t.equal(missing.headers['cache-status'], 'k2-bff; detail=rejected')
  t.same(missing.json(), problem(missing, 'unauthorized', 'Unauthorized', 401, 'An API key is required: send Authorization: Bearer <key> or X-API-Key: <key>.'))
  const wrong = await app.inject({ url, headers: { authorization: 'Bearer wrong-key-0123456789' } })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().detail, 'The API key is not valid.')
  t.equal(wrong.headers['www-authenticate'], 'Bearer realm="k2-payment-links-bff", error="invalid_token"', 'RFC 6750: a key was sent, and refused')
  const wrongHeader = await app.inject({ url, headers: { 'x-api-key': `${KEY}x` } })
  t.equal(wrongHeader.statusCode, 401)
  t.equal(wrongHeader.headers['www-authenticate'], 'Bearer realm="k2-payment-links-bff", error="invalid_token"')
  t.equal((await app.inject({ url, headers: { 'x-api-key': `${KEY}x`, authorization: `Bearer ${KEY}` } })).statusCode, 401, 'X-API-Key, when sent, is the key')
  t.equal((await app.inject({ url, headers: { authorization: `Basic ${KEY}` } })).statusCode, 401)
  t.equal(fake.requests.length, 0, 'nothing reached upstream')

  const bearer = await app.inject({ url, headers: { authorization: `Bearer ${KEY}` } })
  t.equal(bearer.statusCode, 200)
  t.equal(bearer.headers.vary, 'Authorization, X-API-Key', 'a cache keeps the keyed answer for that key only')
  t.equal(missing.headers.vary, 'Authorization, X-API-Key')
  const revalidated = await app.inject({ url, headers: { authorization: `Bearer ${KEY}`, 'if-none-match': bearer.headers.etag } })
  t.equal(revalidated.statusCode, 304)
  t.equal(revalidated.headers.vary, 'Authorization, X-API-Key')
  t.equal((await app.inject({ url, headers: { 'x-api-key': 'another-key-0123456789' } })).statusCode, 200)
  t.equal((await app.inject('/health/live')).statusCode, 200, 'probes stay open')
  t.equal((await app.inject('/openapi.json')).statusCode, 200, 'docs stay open')
})

t.test('with API keys, the budget follows the key, not the address', async t => {
  const { app, fake } = await buildTestApp(t, { API_KEYS: KEY, RATE_LIMIT_MAX: '1' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const auth = { 'x-api-key': KEY }
  t.equal((await app.inject({ url, remoteAddress: '192.0.2.1', headers: auth })).statusCode, 200)
  t.equal((await app.inject({ url, remoteAddress: '192.0.2.2', headers: auth })).statusCode, 429, 'same key, other address')
  t.equal((await app.inject({ url, remoteAddress: '192.0.2.1' })).statusCode, 401, 'the address has its own budget')
  t.equal((await app.inject({ url, remoteAddress: '192.0.2.1' })).statusCode, 429, 'wrong or missing keys spend it')
})

t.test('without API keys the service is open', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const res = await app.inject({ url, headers: { authorization: 'Bearer anything' } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers.vary, undefined, 'the answer does not depend on a key')
})

t.test('with API keys and CORS, Vary names both', async t => {
  const { app, fake } = await buildTestApp(t, { API_KEYS: KEY, CORS_ORIGINS: 'https://shop.example' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const res = await app.inject({ url, headers: { 'x-api-key': KEY, origin: 'https://shop.example' } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers.vary, 'Authorization, X-API-Key, Origin')
})
