import t from 'tap'
import { ACTIVE_ID, buildTestApp, PAID_ID, problem } from '../helpers/app.js'
import { TEST_CLIENT_SECRET, upstreamLink } from '../helpers/fake-kopokopo.js'

const DTO_FIELDS = ['id', 'state', 'status', 'linkStatus', 'amount', 'currency', 'reference', 'note', 'tillName',
  'tillNumber', 'createdAt', 'expiresAt', 'url', 'error']

t.test('answers the DTO for a known link, with the canonical lowercase id', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const res = await app.inject({ method: 'GET', url: `/payment-links/${ACTIVE_ID.toUpperCase()}` })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  t.equal(res.headers['cache-control'], 'private, max-age=3')
  t.same(res.json(), {
    id: ACTIVE_ID,
    state: 'active',
    status: 'Processed',
    linkStatus: 'Active',
    amount: '20000',
    currency: 'KES',
    reference: 'TEST-REF-1',
    note: 'Test note',
    tillName: 'Test Till',
    tillNumber: '000111',
    createdAt: '2026-01-26T12:04:35.444+03:00',
    expiresAt: '2099-02-02T12:04:35.476+03:00',
    url: `${fake.url}/links/${ACTIVE_ID}`,
    error: null
  })
  t.same(Object.keys(res.json()), DTO_FIELDS, 'exactly the documented fields, in order')
})

t.test('calls Kopo Kopo with the documented request', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await app.inject({ method: 'GET', url: `/payment-links/${ACTIVE_ID}` })

  const [token] = fake.calls('token')
  t.equal(token?.method, 'POST')
  t.equal(token?.headers['content-type'], 'application/x-www-form-urlencoded')
  t.same(Object.fromEntries(new URLSearchParams(token?.body)), {
    client_id: 'test-client-id', client_secret: TEST_CLIENT_SECRET, grant_type: 'client_credentials'
  })
  const [status] = fake.calls('status')
  t.equal(status?.method, 'GET')
  t.equal(status?.path, `/api/v2/payment_links/${ACTIVE_ID}`)
  t.equal(status?.headers.accept, 'application/json')
  t.equal(status?.headers.authorization, 'Bearer test-token-1')
  t.equal(fake.requests.length, 2)
})

t.test('never leaks upstream-only fields', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID, { sender_phone_number: 254700000000 }))
  const res = await app.inject({ method: 'GET', url: `/payment-links/${ACTIVE_ID}` })
  t.equal(res.statusCode, 200)
  for (const leak of ['metadata', '_links', 'callback', 'merchant.test', 'upstream.test', 'initiator', 'Test Initiator',
    '254700000000', 'phone', 'test-token', 'Bearer']) {
    t.notMatch(res.body, leak, `no ${leak}`)
  }
})

t.test('maps the documented upstream variants', async t => {
  const { app, fake } = await buildTestApp(t, { CACHE_TTL_MS: '0', CACHE_FINAL_TTL_MS: '0' })
  const cases = [
    {
      upstream: upstreamLink(PAID_ID, {
        amount: 1000.5,
        till_number: 65328,
        paymentLink: { status: 'Paid', link: 'https://pay.example.test/links/x', expires_at: null }
      }),
      expect: { state: 'paid', linkStatus: 'Paid', amount: '1000.5', tillNumber: '65328', url: 'https://pay.example.test/links/x', expiresAt: null }
    },
    {
      upstream: upstreamLink(PAID_ID, { amount: 1000, paymentLink: { payment_link_status: 'active', expires_at: '2020-01-01T00:00:00+03:00' } }),
      expect: { state: 'expired', linkStatus: 'active', amount: '1000', url: null }
    },
    {
      upstream: upstreamLink(PAID_ID, { status: 'Failed', errors: ['Till is not active', { amount: ['too small'] }] }),
      expect: { state: 'failed', error: 'Till is not active; amount: too small' }
    },
    {
      upstream: upstreamLink(PAID_ID, { paymentLink: null, note: null, payment_reference: null, till_name: null }),
      expect: { state: 'unknown', linkStatus: null, url: null, expiresAt: null, note: null, reference: null, tillName: null }
    },
    {
      upstream: upstreamLink(PAID_ID, { paymentLink: { payment_link_status: 'Active', link: 'javascript:alert(1)', expires_at: '2099-01-01T00:00:00Z' } }),
      expect: { state: 'active', url: null }
    },
    {
      // Numbers past the range String() writes out, and descriptive fields of
      // unexpected types: read as text where they are scalars, as none otherwise.
      upstream: upstreamLink(PAID_ID, {
        amount: 1e21,
        till_number: true,
        payment_reference: 12345,
        note: 1e-7,
        till_name: { name: 'x' },
        paymentLink: { payment_link_status: 'Paid', expires_at: 1767225600, link: { href: '/x' } }
      }),
      expect: {
        state: 'paid',
        amount: '1000000000000000000000',
        tillNumber: 'true',
        reference: '12345',
        note: '0.0000001',
        tillName: null,
        expiresAt: null,
        url: null
      }
    },
    {
      upstream: upstreamLink(PAID_ID, { paymentLink: { payment_link_status: 7, status: 'Cancelled' } }),
      expect: { state: 'cancelled', linkStatus: 'Cancelled' }
    },
    {
      upstream: upstreamLink(PAID_ID, { paymentLink: { payment_link_status: 'Canceled' } }),
      expect: { state: 'cancelled', linkStatus: 'Canceled' }
    },
    // A link container of another shape holds no status, expiry or page; an
    // unused field of another type (data.type) is not read at all.
    ...['/links/x', ['Active'], false].map(paymentLink => ({
      upstream: upstreamLink(PAID_ID, { paymentLink }),
      expect: { state: 'unknown', linkStatus: null, expiresAt: null, url: null }
    })),
    {
      upstream: withType(upstreamLink(PAID_ID), null),
      expect: { state: 'active', linkStatus: 'Active' }
    },
    // Expiries that are not an ISO 8601 date and time with an offset are none
    // (Date.parse would read them as long past, and a time without an offset
    // in the server's own zone), and so is one not sent: the link then lasts
    // Kopo Kopo's default 7 days from its creation. The clock is at
    // 2026-06-01T09:00Z.
    ...['2', 'June 10', '2026-02-30T00:00:00Z', '2020-01-01T00:00:00', '2020-01-01', '2020-01-01T25:00:00Z', null, undefined].flatMap(expiresAt => [
      {
        upstream: upstreamLink(PAID_ID, { created_at: '2026-05-25T12:01:00.000+03:00', paymentLink: { payment_link_status: 'Active', expires_at: expiresAt } }),
        expect: { state: 'active', expiresAt: expiresAt ?? null }
      },
      {
        upstream: upstreamLink(PAID_ID, { created_at: '2026-05-25T11:59:00.000+03:00', paymentLink: { payment_link_status: 'Active', expires_at: expiresAt } }),
        expect: { state: 'expired', expiresAt: expiresAt ?? null }
      }
    ]),
    {
      // A created_at that cannot be read either: no expiry can be told.
      upstream: upstreamLink(PAID_ID, { created_at: 'a while ago', paymentLink: { payment_link_status: 'Active' } }),
      expect: { state: 'active', createdAt: 'a while ago', expiresAt: null }
    },
    {
      // One that is sent wins over the default, either way.
      upstream: upstreamLink(PAID_ID, { created_at: '2026-05-01T00:00:00Z', paymentLink: { payment_link_status: 'Active', expires_at: '2026-06-01T09:00:01Z' } }),
      expect: { state: 'active' }
    },
    {
      upstream: upstreamLink(PAID_ID, { created_at: '2026-05-31T00:00:00Z', paymentLink: { payment_link_status: 'Active', expires_at: '2026-06-01T09:00:00Z' } }),
      expect: { state: 'expired' }
    },
    {
      upstream: upstreamLink(PAID_ID, { amount: 1.23456789e-15, note: -1.5e21 }),
      expect: { amount: '0.00000000000000123456789', note: '-1500000000000000000000' }
    }
  ]
  for (const c of cases) {
    fake.links.set(PAID_ID, c.upstream)
    const res = await app.inject({ method: 'GET', url: `/payment-links/${PAID_ID}` })
    t.equal(res.statusCode, 200)
    t.match(res.json(), c.expect)
    t.equal(res.headers['cache-control'], 'private, max-age=0')
  }
  t.equal(fake.calls('status').length, cases.length, 'with TTLs of 0 every request reaches upstream')
})

t.test('a relative payment page is resolved against K2_LINK_BASE_URL, an absolute one kept', async t => {
  const { app, fake } = await buildTestApp(t, { K2_LINK_BASE_URL: 'https://pay.example.test', CACHE_TTL_MS: '0', CACHE_FINAL_TTL_MS: '0' })
  fake.links.set(PAID_ID, upstreamLink(PAID_ID, { paymentLink: { payment_link_status: 'Active', link: '/links/x' } }))
  t.equal((await app.inject(`/payment-links/${PAID_ID}`)).json().url, 'https://pay.example.test/links/x')
  fake.links.set(PAID_ID, upstreamLink(PAID_ID, { paymentLink: { payment_link_status: 'Active', link: 'https://elsewhere.example.test/links/y' } }))
  t.equal((await app.inject(`/payment-links/${PAID_ID}`)).json().url, 'https://elsewhere.example.test/links/y')
})

t.test('errors of any shape are flattened, bounded in depth and length', async t => {
  const { app, fake } = await buildTestApp(t, { CACHE_TTL_MS: '0', CACHE_FINAL_TTL_MS: '0' })
  const deep = JSON.stringify(upstreamLink(PAID_ID, { status: 'Failed', errors: 'X' }))
    .replace('"errors":"X"', `"errors":["shallow",${'['.repeat(4000)}"deep"${']'.repeat(4000)}]`)
  fake.enqueue('status', { status: 200, body: deep })
  const nested = await app.inject(`/payment-links/${PAID_ID}`)
  t.equal(nested.statusCode, 200, 'a nesting too deep to walk is no reason to fail')
  t.equal(nested.json().error, 'shallow')

  fake.links.set(PAID_ID, upstreamLink(PAID_ID, { status: 'Failed', errors: ['x'.repeat(5000)] }))
  const long = await app.inject(`/payment-links/${PAID_ID}`)
  t.equal(long.json().error, `${'x'.repeat(999)}…`)

  // Cut before an emoji rather than through it: its first half alone is no character.
  fake.links.set(PAID_ID, upstreamLink(PAID_ID, { status: 'Failed', errors: `${'a'.repeat(998)}😀😀` }))
  const emoji = await app.inject(`/payment-links/${PAID_ID}`)
  t.equal(emoji.json().error, `${'a'.repeat(998)}…`)
})

t.test('a malformed id is a 400 problem and never reaches upstream', async t => {
  const { app, fake } = await buildTestApp(t)
  for (const id of ['nope', '123', `${ACTIVE_ID}0`, ACTIVE_ID.replaceAll('-', ''), '..%2F..%2Foauth%2Ftoken',
    'aaaaaaaa-0000-4000-8000-00000000000g', '%00', encodeURIComponent('ü'.repeat(10))]) {
    const res = await app.inject({ method: 'GET', url: `/payment-links/${id}`, headers: { 'x-request-id': 'bad-id-check' } })
    t.equal(res.statusCode, 400, id)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.same(res.json(), {
      type: 'urn:k2-bff:problem:invalid-id',
      title: 'Invalid payment link id',
      status: 400,
      detail: 'The payment link id must be a UUID.',
      requestId: 'bad-id-check'
    })
    t.equal(res.headers['cache-status'], 'k2-bff; detail=rejected')
  }
  t.equal(fake.requests.length, 0)
})

t.test('an unknown link is a 404 problem, without upstream\'s body', async t => {
  const { app, fake } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: `/payment-links/${ACTIVE_ID}` })
  t.equal(res.statusCode, 404)
  t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.same(res.json(), problem(res, 'link-not-found', 'Payment link not found', 404, `Kopo Kopo has no payment link with id ${ACTIVE_ID}.`))
  t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; fwd-status=404; stored')
  t.equal(fake.calls('status').length, 1)
})

t.test('X-Request-Id is echoed when well-formed, generated otherwise', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const given = await app.inject({ method: 'GET', url: `/payment-links/${ACTIVE_ID}`, headers: { 'x-request-id': 'checkout:42.A_b-c' } })
  t.equal(given.headers['x-request-id'], 'checkout:42.A_b-c')
  const longest = 'x'.repeat(128)
  t.equal((await app.inject({ method: 'GET', url: `/payment-links/${ACTIVE_ID}`, headers: { 'x-request-id': longest } })).headers['x-request-id'], longest)
  for (const bad of ['has space', 'x'.repeat(129), 'semi;colon', '']) {
    const res = await app.inject({ method: 'GET', url: `/payment-links/${ACTIVE_ID}`, headers: { 'x-request-id': bad } })
    t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/, `replaced ${JSON.stringify(bad)}`)
  }
  const missing = await app.inject({ method: 'GET', url: '/nowhere' })
  t.match(missing.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  t.equal(missing.json().requestId, missing.headers['x-request-id'])
})

t.test('HEAD answers the headers without a body', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const res = await app.inject({ method: 'HEAD', url: `/payment-links/${ACTIVE_ID}` })
  t.equal(res.statusCode, 200)
  t.equal(res.body, '')
  t.match(res.headers.etag, /^"[\w-]{27}"$/)
})

t.test('HEAD answers carry the GET\'s headers: no Content-Length on a 304, the GET\'s length on a 200 and a 404', async t => {
  // RFC 9110 §8.6 and §9.3.2. Fastify's own HEAD route set `Content-Length: 0`
  // on a 304, and a 404 named the method, which made its problem a byte longer.
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const link = `/payment-links/${ACTIVE_ID}`
  const etag = String((await app.inject(link)).headers.etag)
  const docEtag = String((await app.inject('/openapi.json')).headers.etag)
  const requests = [
    { url: link },
    { url: link, headers: { 'if-none-match': etag } },
    { url: '/openapi.json' },
    { url: '/openapi.json', headers: { 'if-none-match': docEtag } },
    { url: '/nowhere' }
  ]
  const volatile = new Set(['x-request-id', 'date', 'x-ratelimit-remaining'])
  for (const request of requests) {
    const get = await app.inject({ method: 'GET', ...request })
    const head = await app.inject({ method: 'HEAD', ...request })
    const what = `${request.url}${request.headers === undefined ? '' : ' with If-None-Match'}: ${get.statusCode}`
    t.equal(head.statusCode, get.statusCode, what)
    t.equal(head.body, '', what)
    const named = (res: typeof get) => Object.fromEntries(Object.entries(res.headers).filter(([name]) => !volatile.has(name)))
    t.strictSame(named(head), named(get), what)
    if (get.statusCode === 304) t.equal(head.headers['content-length'], undefined, `${what} has no Content-Length`)
    else t.equal(head.headers['content-length'], String(Buffer.byteLength(get.body)), `${what}: the GET's length`)
  }
})

/** The document with its (unused) `data.type` set to another value. */
function withType (document: unknown, type: unknown): unknown {
  const { data } = document as { data: Record<string, unknown> }
  return { data: { ...data, type } }
}
