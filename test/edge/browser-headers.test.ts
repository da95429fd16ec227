import type { InjectOptions } from 'fastify'
import t from 'tap'
import { ACTIVE_ID, buildTestApp, sample } from '../helpers/app.js'
import { upstreamLink } from '../helpers/fake-kopokopo.js'

const url = `/payment-links/${ACTIVE_ID}`
const KEY = 'test-key-0123456789abcdef'
const EXPOSED = 'ETag, Cache-Status, X-Request-Id, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset'

t.test('security headers on every answer', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  for (const path of [url, '/payment-links/nope', '/nowhere', '/health/live']) {
    const res = await app.inject(path)
    t.equal(res.headers['content-security-policy']?.toString().split(';')[0], "default-src 'none'", path)
    t.match(res.headers['content-security-policy'], "frame-ancestors 'none'")
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains')
    t.equal(res.headers['referrer-policy'], 'no-referrer')
    t.equal(res.headers['x-frame-options'], 'DENY')
    t.notOk(res.headers['x-powered-by'])
  }
})

const SECURITY_HEADERS = [
  'content-security-policy', 'cross-origin-opener-policy', 'cross-origin-resource-policy', 'origin-agent-cluster',
  'referrer-policy', 'strict-transport-security', 'x-content-type-options', 'x-dns-prefetch-control',
  'x-download-options', 'x-frame-options', 'x-permitted-cross-domain-policies', 'x-xss-protection'
]
const securityHeaders = (headers: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => SECURITY_HEADERS.includes(name)))

const API_HEADERS = {
  'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY'
}

t.test('JSON answers carry exactly the API security header set', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const api = API_HEADERS
  const first = await app.inject(url)
  const notModified = await app.inject({ url, headers: { 'if-none-match': String(first.headers.etag) } })
  t.equal(notModified.statusCode, 304)
  for (const [name, res] of Object.entries({ first, notModified, live: await app.inject('/health/live'), openapi: await app.inject('/openapi.json') })) {
    t.same(securityHeaders(res.headers), api, name)
  }
})

t.test('answers refused early (by a hook, by the router) carry them too; payment-link ones their Cache-Status', async t => {
  const { app, fake, logs } = await buildTestApp(t)
  const rejected = 'k2-bff; detail=rejected'
  const cases: Array<[InjectOptions & { url: string }, number, string | undefined]> = [
    [{ url, headers: { 'content-type': 'application/json' }, payload: '{}' }, 400, rejected],
    [{ url: `/nowhere?q=${'a'.repeat(3000)}` }, 414, undefined],
    [{ url: `/payment-links/${'a'.repeat(3000)}` }, 414, rejected],
    [{ url: '/payment-links/%ZZ' }, 400, rejected],
    [{ url: `/payment-links/${'a'.repeat(150)}` }, 400, rejected],
    [{ method: 'POST', url }, 405, rejected],
    [{ method: 'POST', url: '/docs' }, 405, undefined]
  ]
  for (const [request, status, cacheStatus] of cases) {
    const res = await app.inject(request)
    const name = `${request.method ?? 'GET'} ${request.url.slice(0, 40)}`
    t.equal(res.statusCode, status, name)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', name)
    t.same(securityHeaders(res.headers), API_HEADERS, name)
    t.equal(res.headers['cache-status'], cacheStatus, name)
  }
  t.equal(fake.requests.length, 0)
  // An overlong id reaches the route like any bad id: rate limited and logged.
  const long = await app.inject(`/payment-links/${'a'.repeat(150)}`)
  t.equal(long.headers['x-ratelimit-limit'], '120')
  t.ok(logs.lines.some(l => l.msg === 'request' && l.status === 400 && String(l.path).startsWith('/payment-links/aaaa')))
  // A malformed escape never reaches a hook: it is logged (and counted) as unmatched.
  t.match(logs.lines.filter(l => l.msg === 'request' && l.path === '/payment-links/%ZZ'),
    [{ method: 'GET', route: 'unmatched', status: 400, durationMs: Number }])
  t.equal(sample(await app.metrics.registry.getSingleMetricAsString('k2bff_http_requests_total'),
    'k2bff_http_requests_total{route="unmatched",method="GET",status="400"}'), 1)
  const elsewhere = await app.inject('/%zz')
  t.equal(elsewhere.statusCode, 400)
  t.notMatch(elsewhere.json().detail, 'payment link', 'not called a bad id where there is none')
})

t.test('the docs pages carry helmet\'s whole policy', async t => {
  const { app } = await buildTestApp(t)
  const page = await app.inject('/docs')
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  const asset = await app.inject('/docs/static/swagger-ui-bundle.js')
  t.equal(asset.statusCode, 200)
  const missing = await app.inject('/docs/static/nope.js')
  t.equal(missing.statusCode, 404)
  for (const res of [page, asset, missing]) {
    const headers = securityHeaders(res.headers)
    t.same(Object.keys(headers).sort(), SECURITY_HEADERS, 'every helmet header')
    t.match(headers, {
      'cross-origin-opener-policy': 'same-origin',
      'origin-agent-cluster': '?1',
      'x-dns-prefetch-control': 'off',
      'x-download-options': 'noopen',
      'x-frame-options': 'SAMEORIGIN',
      'x-permitted-cross-domain-policies': 'none',
      'x-xss-protection': '0'
    })
    t.match(headers['content-security-policy'], /script-src/, 'Swagger UI\'s own CSP, not the API\'s')
  }
})

t.test('CORS: preflight and simple requests from an allowed origin', async t => {
  const { app, fake } = await buildTestApp(t, { CORS_ORIGINS: 'https://shop.example,https://admin.shop.example' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const preflight = await app.inject({
    method: 'OPTIONS',
    url,
    headers: { origin: 'https://shop.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-api-key, if-none-match' }
  })
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['access-control-allow-origin'], 'https://shop.example')
  t.equal(preflight.headers['access-control-allow-methods'], 'GET, HEAD')
  t.equal(preflight.headers['access-control-allow-headers'], 'Authorization, X-API-Key, X-Request-Id, If-None-Match, If-Match')
  t.equal(preflight.headers['access-control-max-age'], '600')
  t.equal(preflight.headers['cache-control'], 'max-age=600')
  t.equal(fake.requests.length, 0)

  const simple = await app.inject({ url, headers: { origin: 'https://admin.shop.example' } })
  t.equal(simple.statusCode, 200)
  t.equal(simple.headers['access-control-allow-origin'], 'https://admin.shop.example')
  t.equal(simple.headers['access-control-expose-headers'], EXPOSED)
  t.match(simple.headers.vary, /Origin/)
  t.equal(simple.headers['cross-origin-resource-policy'], 'cross-origin')
})

t.test('CORS: a refused origin gets no CORS grant', async t => {
  const { app, fake } = await buildTestApp(t, { CORS_ORIGINS: 'https://shop.example' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const simple = await app.inject({ url, headers: { origin: 'https://evil.example' } })
  t.equal(simple.statusCode, 200, 'the answer itself is the same; the browser withholds it')
  t.notOk(simple.headers['access-control-allow-origin'])
  const preflight = await app.inject({
    method: 'OPTIONS', url, headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' }
  })
  t.notOk(preflight.headers['access-control-allow-origin'])
})

t.test('CORS: OPTIONS that is no preflight, or is an odd one, gets a clean answer, is logged, and costs no budget', async t => {
  const { app, fake, logs } = await buildTestApp(t, { CORS_ORIGINS: 'https://shop.example', RATE_LIMIT_MAX: '1' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const preflight = { origin: 'https://shop.example', 'access-control-request-method': 'GET' }
  const plain = await app.inject({ method: 'OPTIONS', url })
  t.equal(plain.statusCode, 204, 'not a preflight: nothing to grant')
  t.notOk(plain.headers['access-control-allow-origin'])
  // CORS answers a preflight before the service's own checks: what the
  // browser then sends is what gets checked (below).
  const body = await app.inject({ method: 'OPTIONS', url, headers: { ...preflight, 'content-type': 'text/plain' }, payload: 'hello' })
  t.equal(body.statusCode, 204)
  t.equal(body.headers['access-control-allow-origin'], 'https://shop.example')
  const long = await app.inject({ method: 'OPTIONS', url: `${url}?q=${'a'.repeat(3000)}`, headers: preflight })
  t.equal(long.statusCode, 204)
  t.equal(long.headers['access-control-allow-origin'], 'https://shop.example')
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ method: 'OPTIONS', url, headers: preflight })).statusCode, 204)
  t.equal((await app.inject(url)).statusCode, 200, 'the one request of the budget is still there')
  t.same(logs.lines.filter(l => l.msg === 'request' && l.method === 'OPTIONS').map(l => l.status), [204, 204, 204, 204, 204, 204])
})

t.test('CORS: the service\'s own refusals are readable by an allowed page\'s script', async t => {
  const { app, fake } = await buildTestApp(t, { CORS_ORIGINS: 'https://shop.example', API_KEYS: KEY, RATE_LIMIT_MAX: '4' })
  const origin = { origin: 'https://shop.example' }
  const withKey = { ...origin, 'x-api-key': KEY }
  fake.always('status', { status: 503 })
  const refusals = [
    [await app.inject({ url: `/payment-links/${'a'.repeat(3000)}`, headers: withKey }), 414, 'uri-too-long', 'k2-bff; detail=rejected'],
    [await app.inject({ url, headers: { ...withKey, 'content-type': 'text/plain' }, payload: 'hello' }), 400, 'body-not-allowed', 'k2-bff; detail=rejected'],
    [await app.inject({ url: '/payment-links/not-a-uuid', headers: withKey }), 400, 'invalid-id', 'k2-bff; detail=rejected'],
    [await app.inject({ url, headers: origin }), 401, 'unauthorized', 'k2-bff; detail=rejected'],
    [await app.inject({ url, headers: withKey }), 502, 'upstream-bad-response', 'k2-bff; fwd=miss; fwd-status=503']
  ] as const
  for (let i = 0; i < 2; i++) await app.inject({ url: '/payment-links/not-a-uuid', headers: withKey })
  const limited = await app.inject({ url, headers: withKey })
  for (const [res, status, type, cacheStatus] of [...refusals, [limited, 429, 'rate-limited', 'k2-bff; detail=rejected'] as const]) {
    t.equal(res.statusCode, status)
    t.equal(res.json().type, `urn:k2-bff:problem:${type}`)
    t.equal(res.headers['access-control-allow-origin'], 'https://shop.example')
    t.equal(res.headers['access-control-expose-headers'], EXPOSED)
    t.equal(res.headers['cache-status'], cacheStatus)
  }
})

t.test('CORS: off by default, * only when written so', async t => {
  const closed = await buildTestApp(t)
  closed.fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const res = await closed.app.inject({ url, headers: { origin: 'https://shop.example' } })
  t.notOk(res.headers['access-control-allow-origin'])
  t.equal(res.headers['cross-origin-resource-policy'], 'same-origin')

  const open = await buildTestApp(t, { CORS_ORIGINS: '*' })
  open.fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  t.equal((await open.app.inject({ url, headers: { origin: 'https://any.example' } })).headers['access-control-allow-origin'], '*')
})
