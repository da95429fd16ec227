import t from 'tap'
import { ACTIVE_ID, buildTestApp } from '../helpers/app.js'
import { upstreamLink } from '../helpers/fake-kopokopo.js'

const url = `/payment-links/${ACTIVE_ID}`
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
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN')
    t.notOk(res.headers['x-powered-by'])
  }
})

t.test('the security header set is exactly helmet\'s, computed once', async t => {
  const { app } = await buildTestApp(t)
  const res = await app.inject('/health/live')
  const security = Object.fromEntries(Object.entries(res.headers).filter(([name]) =>
    !['content-type', 'content-length', 'date', 'connection', 'x-request-id'].includes(name)))
  t.same(security, {
    'content-security-policy': "default-src 'none';frame-ancestors 'none'",
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'no-referrer',
    'strict-transport-security': 'max-age=31536000; includeSubDomains',
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'SAMEORIGIN',
    'x-permitted-cross-domain-policies': 'none',
    'x-xss-protection': '0'
  })
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
  t.equal(preflight.headers['access-control-allow-headers'], 'Authorization, X-API-Key, X-Request-Id, If-None-Match')
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
