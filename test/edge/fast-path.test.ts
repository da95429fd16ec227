import { request as httpRequest } from 'node:http'
import t from 'tap'
import { PAYMENT_LINK_ROUTE } from '../../src/payment-links/route.js'
import { ACTIVE_ID, PAID_ID, buildTestApp, sample } from '../helpers/app.js'
import { upstreamLink } from '../helpers/fake-kopokopo.js'
import { exchange } from '../helpers/wire.js'

// Fresh cache hits are answered before Fastify (src/payment-links/fast-path.ts).
// `app.inject` goes straight to Fastify, so these tests use real HTTP, and
// tell who answered by a hook the test adds: it runs for every answer Fastify
// sends, refusals included, and for none the fast path sends. A query string (or an
// uppercase id) sends a hit through Fastify, which gives the answer to compare.

const MISSING_ID = 'aaaaaaaa-0000-4000-8000-00000000dead'
const path = (id: string) => `/payment-links/${id}`

interface Answer {
  status: number
  /** Header names and values as sent, in order. */
  headers: Array<[string, string]>
  body: string
}

async function serve (t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}) {
  const built = await buildTestApp(t, { LOG_LEVEL: 'info', ...env })
  for (const id of [ACTIVE_ID, PAID_ID]) built.fake.links.set(id, upstreamLink(id))
  // What Fastify answered: everything the fast path did not.
  const handled: string[] = []
  built.app.addHook('onResponse', (request, _reply, done) => {
    handled.push(`${request.method} ${request.url}`)
    done()
  })
  await built.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = built.app.server.address() as { port: number }
  const send = async (target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> =>
    await new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: target, method, headers, agent: false }, res => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', chunk => { body += chunk })
        res.on('end', () => {
          const pairs: Array<[string, string]> = []
          for (let i = 0; i < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!])
          resolve({ status: res.statusCode!, headers: pairs, body })
        })
      })
      req.on('error', reject)
      req.end()
    })
  return { ...built, handled, send, port }
}

const PER_ANSWER = new Set(['date', 'x-request-id', 'x-ratelimit-remaining'])
/** The answer without what differs between any two answers (the date, a generated request id, the budget left). */
const comparable = (answer: Answer) => ({ ...answer, headers: answer.headers.filter(([name]) => !PER_ANSWER.has(name)) })
const header = (answer: Answer, name: string) => answer.headers.find(([n]) => n === name)?.[1]

t.test('a fresh hit is answered without Fastify, exactly as Fastify answers it', async t => {
  const { send, handled, fake } = await serve(t)
  const miss = await send(path(ACTIVE_ID))
  t.equal(header(miss, 'cache-status'), 'k2-bff; fwd=miss; stored')
  t.same(handled, [`GET ${path(ACTIVE_ID)}`], 'a miss goes through Fastify')

  const fast = await send(path(ACTIVE_ID))
  t.same(handled.length, 1, 'the hit never reached Fastify')
  const routed = await send(`${path(ACTIVE_ID)}?`)
  t.same(handled.slice(1), [`GET ${path(ACTIVE_ID)}?`])
  t.equal(fast.status, 200)
  t.equal(header(fast, 'cache-status'), 'k2-bff; hit; ttl=3')
  t.same(comparable(fast), comparable(routed), 'same status, headers in the same order, and body')
  t.same(fast.headers.map(([name]) => name), routed.headers.map(([name]) => name))
  t.match(header(fast, 'x-request-id'), /^[0-9a-f-]{36}$/)
  t.not(header(fast, 'x-request-id'), header(routed, 'x-request-id'))
  t.same([miss, fast, routed].map(a => header(a, 'x-ratelimit-remaining')), ['119', '118', '117'], 'one budget, drawn on by both')
  t.equal(fake.calls('status').length, 1)

  const given = { 'x-request-id': 'checkout-42' }
  const fastGiven = await send(path(ACTIVE_ID), given)
  const routedGiven = await send(path(ACTIVE_ID.toUpperCase()), given)
  t.equal(handled.length, 3, 'only the uppercase id went through Fastify')
  t.equal(header(fastGiven, 'x-request-id'), 'checkout-42')
  t.same(comparable(fastGiven), comparable(routedGiven))
  t.equal(header(await send(path(ACTIVE_ID), { 'x-request-id': 'no spaces allowed' }), 'x-request-id')?.length, 36, 'an unusable id is replaced')
})

t.test('If-None-Match: a 304 without a body from the fast path, as from Fastify; another tag gets the 200', async t => {
  const { send, handled } = await serve(t)
  const first = await send(path(PAID_ID))
  const etag = header(first, 'etag')!
  for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
    const before = handled.length
    const fast = await send(path(PAID_ID), { 'if-none-match': ifNoneMatch })
    const routed = await send(`${path(PAID_ID)}?`, { 'if-none-match': ifNoneMatch })
    t.equal(handled.length, before + 1, `${ifNoneMatch}: only the query string went through Fastify`)
    t.equal(fast.status, 304)
    t.equal(fast.body, '')
    t.same(comparable(fast), comparable(routed))
  }
  const other = await send(path(PAID_ID), { 'if-none-match': '"other"' })
  t.equal(other.status, 200)
  t.same(comparable(other), comparable(await send(`${path(PAID_ID)}?`, { 'if-none-match': '"other"' })))
})

t.test('If-Match goes to Fastify, which judges it: a 412 for another tag, the 200 for this one', async t => {
  const { send, handled } = await serve(t)
  const etag = header(await send(path(PAID_ID)), 'etag')!
  const changed = await send(path(PAID_ID), { 'if-match': '"other"' })
  t.equal(changed.status, 412)
  t.equal(JSON.parse(changed.body).type, 'urn:k2-bff:problem:precondition-failed')
  t.equal(header(changed, 'cache-status'), 'k2-bff; hit; ttl=3')
  const same = await send(path(PAID_ID), { 'if-match': etag })
  t.equal(same.status, 200)
  t.same(comparable(same), comparable(await send(`${path(PAID_ID)}?`)))
  t.same(handled, [path(PAID_ID), path(PAID_ID), path(PAID_ID), `${path(PAID_ID)}?`].map(p => `GET ${p}`),
    'the two with If-Match went through Fastify')
})

t.test('the fast path logs and counts a hit as Fastify does', async t => {
  const { app, send, logs } = await serve(t)
  await send(path(ACTIVE_ID))
  const fast = await send(path(ACTIVE_ID))
  const routed = await send(`${path(ACTIVE_ID)}?`)
  const lineOf = async (answer: Answer) => await logs.waitFor(l => l.msg === 'request' && l.requestId === header(answer, 'x-request-id'))
  const fastLine = await lineOf(fast)
  const routedLine = await lineOf(routed)
  const { time: _t1, durationMs, requestId: _r1, ...fastRest } = fastLine
  const { time: _t2, durationMs: _d, requestId: _r2, ...routedRest } = routedLine
  t.same(fastRest, { ...routedRest, path: path(ACTIVE_ID) })
  t.same(Object.keys(fastLine), Object.keys(routedLine), 'the same fields in the same order')
  t.match(fastLine, { level: 30, method: 'GET', route: PAYMENT_LINK_ROUTE, path: path(ACTIVE_ID), client: '127.0.0.1', status: 200, cache: 'k2-bff; hit; ttl=3', msg: 'request' })
  t.type(durationMs, 'number')

  await send(path(ACTIVE_ID), { 'if-none-match': header(fast, 'etag')! })
  const text = await app.metrics.registry.metrics()
  t.equal(sample(text, `k2bff_http_requests_total{route="${PAYMENT_LINK_ROUTE}",method="GET",status="200"}`), 3)
  t.equal(sample(text, `k2bff_http_requests_total{route="${PAYMENT_LINK_ROUTE}",method="GET",status="304"}`), 1)
  t.equal(sample(text, `k2bff_http_request_duration_seconds_count{route="${PAYMENT_LINK_ROUTE}",method="GET",status="200"}`), 3)
  t.equal(sample(text, 'k2bff_cache_events_total{result="hit"}'), 3)
  t.equal(sample(text, 'k2bff_cache_events_total{result="miss"}'), 1)
})

t.test('everything but a fresh, found, well-formed hit goes on to Fastify', async t => {
  const { send, handled, clock, fake, app } = await serve(t, { CACHE_STALE_IF_ERROR_MS: '60000' })
  await send(path(ACTIVE_ID))
  await send(path(MISSING_ID))
  handled.length = 0

  const cases: Array<[string, () => Promise<Answer>, number]> = [
    ['HEAD', async () => await send(path(ACTIVE_ID), {}, 'HEAD'), 200],
    ['a query string', async () => await send(`${path(ACTIVE_ID)}?x=1`), 200],
    ['a trailing slash', async () => await send(`${path(ACTIVE_ID)}/`), 404],
    ['an uppercase id', async () => await send(path(ACTIVE_ID.toUpperCase())), 200],
    ['an id never seen', async () => await send(path(PAID_ID)), 200],
    ['a cached 404', async () => await send(path(MISSING_ID)), 404],
    ['a body announced', async () => await send(path(ACTIVE_ID), { 'content-length': '2' }), 400]
  ]
  for (const [name, run, status] of cases) {
    const before = handled.length
    t.equal((await run()).status, status, name)
    t.equal(handled.length, before + 1, `${name}: through Fastify`)
  }
  t.equal(fake.calls('status').length, 3, 'the id never seen went to Kopo Kopo')

  // Past its TTL: Kopo Kopo is asked again, through Fastify.
  clock.advance(6_000)
  const before = handled.length
  const refreshed = await send(path(ACTIVE_ID))
  t.equal(header(refreshed, 'cache-status'), 'k2-bff; fwd=miss; stored')
  t.equal(handled.length, before + 1)

  // Draining: Fastify answers, and says the connection closes.
  app.startDraining()
  const draining = await send(path(ACTIVE_ID))
  t.equal(handled.length, before + 2)
  t.equal(draining.status, 200)
})

t.test('HTTP/1.1 without Host, and a request pipelined behind an unsent answer, go through Fastify', async t => {
  const { send, handled, port } = await serve(t)
  await send(path(ACTIVE_ID))
  await send(path(PAID_ID))
  handled.length = 0
  const raw = async (text: string) => await exchange(port, text)
  t.match(await raw(`GET ${path(ACTIVE_ID)} HTTP/1.1\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 400 /)
  t.same(handled, [`GET ${path(ACTIVE_ID)}`])

  // The first is a miss; the two hits behind it wait for its answer, in Fastify.
  const pipelined = await raw([path(MISSING_ID), path(ACTIVE_ID), path(PAID_ID)]
    .map((p, i) => `GET ${p} HTTP/1.1\r\nHost: x\r\n${i === 2 ? 'Connection: close\r\n' : ''}\r\n`).join(''))
  t.same(pipelined.match(/HTTP\/1\.1 \d{3}/g), ['HTTP/1.1 404', 'HTTP/1.1 200', 'HTTP/1.1 200'])
  t.same(handled.slice(1), [path(MISSING_ID), path(ACTIVE_ID), path(PAID_ID)].map(p => `GET ${p}`))
})

t.test('with API keys: a valid key is served fast, under its own budget; a wrong or missing one is refused by Fastify', async t => {
  const { send, handled } = await serve(t, { API_KEYS: 'key-one-not-real,key-two-not-real' })
  const one = { authorization: 'Bearer key-one-not-real' }
  const two = { 'x-api-key': 'key-two-not-real' }
  await send(path(ACTIVE_ID), one)
  handled.length = 0
  const fast = await send(path(ACTIVE_ID), one)
  const routed = await send(`${path(ACTIVE_ID)}?`, one)
  t.same(handled, [`GET ${path(ACTIVE_ID)}?`])
  t.equal(header(fast, 'vary'), 'Authorization, X-API-Key')
  t.same(comparable(fast), comparable(routed))
  t.same([fast, routed].map(a => header(a, 'x-ratelimit-remaining')), ['118', '117'])
  t.equal(header(await send(path(ACTIVE_ID), two), 'x-ratelimit-remaining'), '119', 'another key, another budget')
  t.equal(handled.length, 1)

  t.equal((await send(path(ACTIVE_ID))).status, 401)
  t.equal((await send(path(ACTIVE_ID), { 'x-api-key': 'wrong-key-not-real' })).status, 401)
  t.equal(handled.length, 3, 'both refusals came from Fastify')
})

t.test('a spent budget: the fast path stops, and Fastify refuses with 429', async t => {
  const { send, handled, app } = await serve(t, { RATE_LIMIT_MAX: '3' })
  await send(path(ACTIVE_ID))
  handled.length = 0
  const answers = [await send(path(ACTIVE_ID)), await send(path(ACTIVE_ID)), await send(path(ACTIVE_ID))]
  t.same(answers.map(a => a.status), [200, 200, 429])
  t.same(answers.map(a => header(a, 'x-ratelimit-remaining')), ['1', '0', '0'])
  t.same(handled, [`GET ${path(ACTIVE_ID)}`], 'only the refusal went through Fastify')
  const text = await app.metrics.registry.metrics()
  t.equal(sample(text, 'k2bff_rate_limited_total'), 1, 'refused once, counted once')
  t.equal(sample(text, 'k2bff_cache_events_total{result="hit"}'), 2, 'the refused request looked nothing up')
})

t.test('behind trusted proxies, each forwarded client has its own budget on both paths', async t => {
  const { send, handled, logs } = await serve(t, { TRUST_PROXY: '127.0.0.1' })
  const from = (client: string) => ({ 'x-forwarded-for': client })
  await send(path(ACTIVE_ID), from('203.0.113.7'))
  handled.length = 0
  const remaining = async (client: string, target = path(ACTIVE_ID)) => header(await send(target, from(client)), 'x-ratelimit-remaining')
  t.equal(await remaining('203.0.113.7'), '118')
  t.equal(await remaining('203.0.113.7', `${path(ACTIVE_ID)}?`), '117')
  t.equal(await remaining('198.51.100.9'), '119')
  // IPv6 clients are keyed by their /64 on both paths.
  t.equal(await remaining('2001:db8::1'), '119')
  t.equal(await remaining('2001:db8::2', `${path(ACTIVE_ID)}?`), '118')
  t.equal(await remaining('2001:db8::3'), '117')
  t.equal(handled.length, 2)
  // And the log names the same client on both paths.
  const logged = await send(path(ACTIVE_ID), { ...from('192.0.2.5'), 'x-request-id': 'forwarded-fast' })
  t.equal(handled.length, 2, 'by the fast path')
  t.equal((await logs.waitFor(l => l.msg === 'request' && l.requestId === header(logged, 'x-request-id'))).client, '192.0.2.5')
  await send(`${path(ACTIVE_ID)}?`, { ...from('192.0.2.6'), 'x-request-id': 'forwarded-routed' })
  t.equal((await logs.waitFor(l => l.msg === 'request' && l.requestId === 'forwarded-routed')).client, '192.0.2.6')
})

for (const [origins, keys] of [['https://shop.example,https://pay.example', ''], ['https://shop.example', 'key-one-not-real'], ['*', '']] as const) {
  t.test(`with CORS_ORIGINS=${origins}${keys === '' ? '' : ' and API keys'}: the CORS headers @fastify/cors gives each Origin`, async t => {
    const { send, handled } = await serve(t, { CORS_ORIGINS: origins, API_KEYS: keys })
    const auth: Record<string, string> = keys === '' ? {} : { 'x-api-key': keys }
    await send(path(ACTIVE_ID), auth)
    handled.length = 0
    for (const origin of [undefined, 'https://shop.example', 'https://pay.example', 'https://evil.example', 'null']) {
      const from = { ...auth, ...(origin === undefined ? {} : { origin }) }
      const fast = await send(path(ACTIVE_ID), from)
      const routed = await send(`${path(ACTIVE_ID)}?`, from)
      t.same(comparable(fast), comparable(routed), `Origin ${origin}`)
      t.same(fast.headers.map(([name]) => name), routed.headers.map(([name]) => name))
    }
    t.equal(handled.length, 5, 'only the query strings went through Fastify')
    const granted = await send(path(ACTIVE_ID), { ...auth, origin: 'https://shop.example' })
    t.equal(header(granted, 'access-control-allow-origin'), origins === '*' ? '*' : 'https://shop.example')
    t.equal(header(granted, 'vary'), keys !== '' ? 'Authorization, X-API-Key, Origin' : origins === '*' ? undefined : 'Origin')
    t.equal(header(await send(path(ACTIVE_ID), { ...auth, origin: 'https://evil.example' }), 'access-control-allow-origin'), origins === '*' ? '*' : undefined)
    t.equal(handled.length, 5)
  })
}

t.test('the cache\'s order of use: a fast hit counts as a use, a request refused for its key or budget does not', async t => {
  const THIRD_ID = 'aaaaaaaa-0000-4000-8000-000000000003'
  const { send, fake } = await serve(t, { CACHE_MAX_ENTRIES: '2', API_KEYS: 'key-one-not-real,key-two-not-real', RATE_LIMIT_MAX: '6' })
  fake.links.set(THIRD_ID, upstreamLink(THIRD_ID))
  const one = { 'x-api-key': 'key-one-not-real' }
  const two = { 'x-api-key': 'key-two-not-real' }
  const status = async (id: string, headers: Record<string, string>) => header(await send(path(id), headers), 'cache-status')

  // Used fast, ACTIVE_ID outlives PAID_ID, stored after it.
  await status(ACTIVE_ID, one)
  await status(PAID_ID, one)
  t.equal(await status(ACTIVE_ID, one), 'k2-bff; hit; ttl=3')
  t.equal(await status(THIRD_ID, one), 'k2-bff; fwd=miss; stored')
  t.equal(await status(ACTIVE_ID, one), 'k2-bff; hit; ttl=3', 'kept: used since PAID_ID was stored')
  t.equal(await status(PAID_ID, one), 'k2-bff; fwd=miss; stored', 'PAID_ID was evicted, the least recently used')

  // ACTIVE_ID is now the least recently used. Asked for without a key, and
  // then over key one's budget, it is refused, and neither refusal counts as
  // a use: the next entry stored evicts it, not PAID_ID.
  t.equal((await send(path(ACTIVE_ID))).status, 401)
  t.equal((await send(path(ACTIVE_ID), one)).status, 429)
  t.equal(await status(THIRD_ID, two), 'k2-bff; fwd=miss; stored')
  t.equal(await status(PAID_ID, two), 'k2-bff; hit; ttl=3')
  t.equal(await status(ACTIVE_ID, two), 'k2-bff; fwd=miss; stored')
  t.same(fake.calls('status').map(call => call.path.slice(-1)), ['1', '2', '3', '2', '3', '1'])
})
