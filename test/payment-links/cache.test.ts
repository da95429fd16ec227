import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { LinkCache } from '../../src/payment-links/cache.js'
import { DEFAULT_LINK_LIFETIME_MS } from '../../src/payment-links/map.js'
import { ACTIVE_ID, ManualClock, PAID_ID, buildTestApp, problem } from '../helpers/app.js'
import { gate, upstreamLink } from '../helpers/fake-kopokopo.js'

const get = (app: Awaited<ReturnType<typeof buildTestApp>>['app'], id: string, headers: Record<string, string> = {}) =>
  app.inject({ method: 'GET', url: `/payment-links/${id}`, headers })

t.test('a non-final answer is served from cache for CACHE_TTL_MS, then fetched again', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CACHE_TTL_MS: '3000' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const first = await get(app, ACTIVE_ID)
  t.equal(first.headers['cache-status'], 'k2-bff; fwd=miss; stored')
  t.equal(first.headers['cache-control'], 'private, max-age=3')

  clock.advance(1200)
  const hit = await get(app, ACTIVE_ID)
  t.equal(hit.statusCode, 200)
  t.equal(hit.body, first.body)
  t.equal(hit.headers.etag, first.headers.etag)
  t.equal(hit.headers['cache-status'], 'k2-bff; hit; ttl=1')
  t.equal(hit.headers['cache-control'], 'private, max-age=1')
  t.equal(fake.calls('status').length, 1)

  clock.advance(1800)
  const again = await get(app, ACTIVE_ID)
  t.equal(again.headers['cache-status'], 'k2-bff; fwd=miss; stored')
  t.equal(fake.calls('status').length, 2)
  t.equal(fake.calls('token').length, 1, 'the token is reused')
})

t.test('a final answer is cached for CACHE_FINAL_TTL_MS', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CACHE_TTL_MS: '3000', CACHE_FINAL_TTL_MS: '300000' })
  fake.links.set(PAID_ID, upstreamLink(PAID_ID, { paymentLink: { payment_link_status: 'Paid' } }))
  const first = await get(app, PAID_ID)
  t.equal(first.headers['cache-control'], 'private, max-age=300')
  clock.advance(299_000)
  const hit = await get(app, PAID_ID)
  t.equal(hit.headers['cache-status'], 'k2-bff; hit; ttl=1')
  clock.advance(1000)
  await get(app, PAID_ID)
  t.equal(fake.calls('status').length, 2)
})

t.test('an active link is not served as active past its expiry', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CACHE_TTL_MS: '60000' })
  const expiresAt = new Date(clock.now() + 2000).toISOString()
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID, { paymentLink: { payment_link_status: 'Active', expires_at: expiresAt } }))
  const first = await get(app, ACTIVE_ID)
  t.equal(first.json().state, 'active')
  t.equal(first.headers['cache-control'], 'private, max-age=2')
  clock.advance(2000)
  const later = await get(app, ACTIVE_ID)
  t.equal(later.json().state, 'expired')
  t.equal(fake.calls('status').length, 2)
})

t.test('a fresh answer\'s max-age never reaches past an active link\'s expiry', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CACHE_TTL_MS: '60000' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID, { paymentLink: { payment_link_status: 'Active', expires_at: new Date(clock.now() + 1500).toISOString() } }))
  fake.links.set(PAID_ID, upstreamLink(PAID_ID))
  const expiring = await get(app, ACTIVE_ID)
  t.equal(expiring.json().state, 'active')
  t.equal(expiring.headers['cache-control'], 'private, max-age=1', '1.5 s left: rounded down')
  t.equal((await get(app, PAID_ID)).headers['cache-control'], 'private, max-age=60', 'without an expiry, the whole TTL')
})

t.test('a miss\'s max-age is the whole seconds its answer stays fresh, as a hit\'s', async t => {
  // A clock that moves a little at every reading, as a real one does between
  // storing an answer and sending it.
  class CreepingClock extends ManualClock {
    override now (): number {
      this.advance(0.001)
      return super.now()
    }
  }
  const { app, fake } = await buildTestApp(t, { CACHE_TTL_MS: '2500', CACHE_FINAL_TTL_MS: '3000', CACHE_STALE_IF_ERROR_MS: '60000' },
    { clock: new CreepingClock() })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.links.set(PAID_ID, upstreamLink(PAID_ID, { paymentLink: { payment_link_status: 'Paid' } }))
  const miss = await get(app, ACTIVE_ID)
  const hit = await get(app, ACTIVE_ID)
  t.equal(miss.headers['cache-status'], 'k2-bff; fwd=miss; stored')
  t.equal(miss.headers['cache-control'], 'private, max-age=2', '2.5 s: not 3, which would outlast what the service keeps')
  t.equal(hit.headers['cache-status'], 'k2-bff; hit; ttl=2')
  t.equal(hit.headers['cache-control'], 'private, max-age=2')
  t.equal((await get(app, PAID_ID)).headers['cache-control'], 'private, max-age=3', '3 s: not 2 for the microseconds since')
})

t.test('a 404 is remembered for CACHE_NOT_FOUND_TTL_MS', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CACHE_NOT_FOUND_TTL_MS: '1000' })
  t.equal((await get(app, ACTIVE_ID)).statusCode, 404)
  const hit = await get(app, ACTIVE_ID)
  t.equal(hit.statusCode, 404)
  t.equal(hit.headers['cache-status'], 'k2-bff; hit; ttl=1')
  t.equal(fake.calls('status').length, 1)
  clock.advance(1000)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  t.equal((await get(app, ACTIVE_ID)).statusCode, 200, 'a link created meanwhile is found')
  t.equal(fake.calls('status').length, 2)
})

t.test('concurrent requests for one id share one upstream call', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  // Kopo Kopo holds its answer until the test has seen the call. The other 24
  // requests need no I/O to reach the service, so they are all there before
  // the answer, released only then, can come back.
  const answers = await fake.holdUntilReceived('status', 1, () => Array.from({ length: 25 }, async () => await get(app, ACTIVE_ID)))
  t.equal(fake.calls('status').length, 1)
  t.equal(fake.calls('token').length, 1)
  t.ok(answers.every(a => a.statusCode === 200 && a.body === answers[0]?.body))
  const statuses = answers.map(a => a.headers['cache-status'])
  t.equal(statuses.filter(s => s === 'k2-bff; fwd=miss; stored').length, 1)
  t.equal(statuses.filter(s => s === 'k2-bff; fwd=miss; collapsed').length, 24)
})

t.test('requests that joined a call that failed say they were collapsed too', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_RETRIES: '0' })
  const answers = await fake.holdUntilReceived('status', 1, () => Array.from({ length: 3 }, async () => await get(app, ACTIVE_ID)), { status: 500 })
  t.same(answers.map(a => a.statusCode), [502, 502, 502])
  t.same(answers.map(a => a.headers['cache-status']).sort(), [
    'k2-bff; fwd=miss; fwd-status=500',
    'k2-bff; fwd=miss; fwd-status=500; collapsed',
    'k2-bff; fwd=miss; fwd-status=500; collapsed'
  ])
  t.equal(fake.calls('status').length, 1)
})

t.test('ETag and If-None-Match', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const first = await get(app, ACTIVE_ID)
  const etag = String(first.headers.etag)
  for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, '*', '*, *']) {
    const res = await get(app, ACTIVE_ID, { 'if-none-match': inm })
    t.equal(res.statusCode, 304, inm)
    t.equal(res.body, '')
    t.equal(res.headers.etag, etag)
    t.equal(res.headers['cache-status'], 'k2-bff; hit; ttl=3')
    t.equal(res.headers['cache-control'], 'private, max-age=3')
  }
  const changed = await get(app, ACTIVE_ID, { 'if-none-match': '"stale-etag"' })
  t.equal(changed.statusCode, 200)
  t.equal(changed.body, first.body)
})

t.test('If-Match: a 200 while the link\'s ETag is listed, a 412 problem once it is not; only for an answer that exists', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CACHE_TTL_MS: '3000', CACHE_STALE_IF_ERROR_MS: '30000', UPSTREAM_RETRIES: '0' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const first = await get(app, ACTIVE_ID)
  const etag = String(first.headers.etag)
  for (const ifMatch of [etag, '*', ` "other" ,${etag} `, '*, *']) {
    const res = await get(app, ACTIVE_ID, { 'if-match': ifMatch })
    t.equal(res.statusCode, 200, ifMatch)
    t.equal(res.body, first.body)
    t.equal(res.headers.etag, etag)
  }
  const refuse = async (headers: Record<string, string>, cacheStatus: string) => {
    const res = await get(app, ACTIVE_ID, headers)
    t.equal(res.statusCode, 412, JSON.stringify(headers))
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.same(res.json(), problem(res, 'precondition-failed', 'Precondition failed', 412,
      'The payment link\'s current ETag is not among those sent in If-Match.'))
    t.equal(res.headers['cache-status'], cacheStatus)
    t.equal(res.headers['cache-control'], 'no-store')
    t.equal(res.headers.etag, undefined)
  }
  // Strong comparison: the weak form of the very tag does not match.
  for (const ifMatch of ['"other"', `W/${etag}`, etag.slice(0, -1)]) await refuse({ 'if-match': ifMatch }, 'k2-bff; hit; ttl=3')
  // If-Match is judged first: a matching If-None-Match does not turn its 412 into a 304.
  await refuse({ 'if-match': '"other"', 'if-none-match': etag }, 'k2-bff; hit; ttl=3')
  const both = await get(app, ACTIVE_ID, { 'if-match': etag, 'if-none-match': etag })
  t.equal(both.statusCode, 304, 'both pass: If-None-Match decides')

  // The link changes upstream: the caller's ETag no longer matches the fresh answer.
  clock.advance(3000)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID, { paymentLink: { payment_link_status: 'Paid' } }))
  await refuse({ 'if-match': etag }, 'k2-bff; fwd=miss; stored')
  t.equal(fake.calls('status').length, 2)

  // A stale answer is an answer: judged the same way.
  const paidEtag = String((await get(app, ACTIVE_ID)).headers.etag)
  t.not(paidEtag, etag)
  fake.always('status', { status: 503 })
  clock.advance(300_000 + 1000)
  t.equal((await get(app, ACTIVE_ID, { 'if-match': paidEtag })).statusCode, 200)
  await refuse({ 'if-match': etag }, 'k2-bff; fwd=stale; ttl=-1; fwd-status=503')
  fake.always('status', undefined)

  // No answer to compare with: a 404 or an outage stays what it is.
  t.equal((await get(app, 'aaaaaaaa-0000-4000-8000-0000000000ff', { 'if-match': '*' })).statusCode, 404)
  fake.enqueue('status', { status: 500 })
  t.equal((await get(app, PAID_ID, { 'if-match': '"other"' })).statusCode, 502)
})

t.test('stale-if-error: an expired answer stands in while Kopo Kopo fails, within the window', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CACHE_TTL_MS: '3000', CACHE_STALE_IF_ERROR_MS: '30000', UPSTREAM_RETRIES: '0' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const first = await get(app, ACTIVE_ID)

  fake.always('status', { status: 503, body: '<html>down</html>' })
  clock.advance(3000 + 4500)
  const stale = await get(app, ACTIVE_ID)
  t.equal(stale.statusCode, 200)
  t.equal(stale.body, first.body)
  t.equal(stale.headers['cache-status'], 'k2-bff; fwd=stale; ttl=-5; fwd-status=503')
  t.equal(stale.headers['cache-control'], 'private, max-age=0')
  t.equal(stale.headers.etag, first.headers.etag)

  fake.always('status', { reset: true })
  clock.advance(10_000)
  t.equal((await get(app, ACTIVE_ID)).headers['cache-status'], 'k2-bff; fwd=stale; ttl=-15; detail=connection-error', 'network errors too')

  clock.advance(16_000)
  const gone = await get(app, ACTIVE_ID)
  t.equal(gone.statusCode, 502, 'past the stale window the error shows')
  t.equal(gone.headers['cache-status'], 'k2-bff; fwd=miss; detail=connection-error')
})

t.test('stale-if-error stands in for a timeout too', async t => {
  // The deadline runs on the real clock; the cache on the test's.
  const { app, fake, clock } = await buildTestApp(t, { CACHE_TTL_MS: '3000', UPSTREAM_TIMEOUT_MS: '1000', UPSTREAM_RETRIES: '0' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const first = await get(app, ACTIVE_ID)
  t.equal(first.statusCode, 200)
  const held = gate()
  t.teardown(held.open)
  fake.always('status', { until: held.promise })
  clock.advance(4000)
  const stale = await get(app, ACTIVE_ID)
  t.equal(stale.statusCode, 200)
  t.equal(stale.body, first.body)
  t.equal(stale.headers['cache-status'], 'k2-bff; fwd=stale; ttl=-1; detail=timeout')
})

t.test('stale-if-error: the window is judged when the failure comes, not when the request came', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CACHE_TTL_MS: '3000', CACHE_STALE_IF_ERROR_MS: '30000', UPSTREAM_RETRIES: '0' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await get(app, ACTIVE_ID)
  clock.advance(3000 + 29_000) // 1 s of the window left
  const failure = gate()
  fake.enqueue('status', { status: 503, until: failure.promise })
  const pending = get(app, ACTIVE_ID)
  await fake.received('status', 2)
  clock.advance(4000) // Kopo Kopo takes 4 s to fail
  failure.open()
  const res = await pending
  t.equal(res.statusCode, 502, 'the window ended while Kopo Kopo was failing')
  t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; fwd-status=503')
})

t.test('stale-if-error never serves an active link past its expiry', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CACHE_TTL_MS: '60000', CACHE_STALE_IF_ERROR_MS: '30000', UPSTREAM_RETRIES: '0' })
  const expiresAt = new Date(clock.now() + 2000).toISOString()
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID, { paymentLink: { payment_link_status: 'Active', expires_at: expiresAt } }))
  t.equal((await get(app, ACTIVE_ID)).json().state, 'active')
  fake.always('status', { status: 503 })
  clock.advance(1000)
  t.equal((await get(app, ACTIVE_ID)).headers['cache-status'], 'k2-bff; hit; ttl=1', 'fresh until its expiry')
  clock.advance(1000)
  const res = await get(app, ACTIVE_ID)
  t.equal(res.statusCode, 502, 'the link can no longer be paid: no stale "active"')
  t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; fwd-status=503')
})

t.test('without an expires_at that can be read, an active link is served as active until 7 days after its creation', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CACHE_TTL_MS: '60000', CACHE_STALE_IF_ERROR_MS: '30000', UPSTREAM_RETRIES: '0' })
  const createdAt = new Date(clock.now() - DEFAULT_LINK_LIFETIME_MS + 2000).toISOString()
  // Not sent, and sent in a form that cannot be read.
  const links = [[ACTIVE_ID, undefined], [PAID_ID, 'next tuesday']] as const
  for (const [id, expiresAt] of links) {
    fake.links.set(id, upstreamLink(id, { created_at: createdAt, paymentLink: { payment_link_status: 'Active', expires_at: expiresAt } }))
    const first = await get(app, id)
    t.equal(first.json().state, 'active')
    t.equal(first.headers['cache-control'], 'private, max-age=2', 'its max-age stops at the default expiry')
  }
  fake.always('status', { status: 503 })
  clock.advance(1000)
  for (const [id] of links) t.equal((await get(app, id)).headers['cache-status'], 'k2-bff; hit; ttl=1')
  clock.advance(1000)
  for (const [id] of links) t.equal((await get(app, id)).statusCode, 502, 'no stale "active" past it either')
  fake.always('status', undefined)
  for (const [id] of links) t.equal((await get(app, id)).json().state, 'expired')
})

t.test('an active link whose expiry cannot be told keeps the usual TTL and stale window', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CACHE_TTL_MS: '3000', CACHE_STALE_IF_ERROR_MS: '30000', UPSTREAM_RETRIES: '0' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID, { created_at: 'some day', paymentLink: { payment_link_status: 'Active', expires_at: 'next tuesday' } }))
  const first = await get(app, ACTIVE_ID)
  t.equal(first.json().state, 'active')
  t.equal(first.headers['cache-control'], 'private, max-age=3')
  t.equal((await get(app, ACTIVE_ID)).headers['cache-status'], 'k2-bff; hit; ttl=3')
  t.equal(fake.calls('status').length, 1)
  fake.always('status', { status: 503 })
  clock.advance(3000 + 30_000)
  const res = await get(app, ACTIVE_ID)
  t.equal(res.statusCode, 502, 'dropped at the end of its stale window')
  t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; fwd-status=503')
})

t.test('stale-if-error does not hide a wrong answer or a 404, and never serves a stale 404', async t => {
  const { app, fake, clock } = await buildTestApp(t, { UPSTREAM_RETRIES: '0' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await get(app, ACTIVE_ID)
  clock.advance(4000)
  fake.enqueue('status', { status: 200, body: '{"data":' })
  const garbage = await get(app, ACTIVE_ID)
  t.equal(garbage.statusCode, 502)
  t.equal(garbage.headers['cache-status'], 'k2-bff; fwd=miss; fwd-status=200')

  fake.links.delete(ACTIVE_ID)
  t.equal((await get(app, ACTIVE_ID)).statusCode, 404, 'a link that is gone is gone')

  clock.advance(1000)
  fake.always('status', { status: 500 })
  const res = await get(app, ACTIVE_ID)
  t.equal(res.statusCode, 502)
  t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; fwd-status=500')
})

t.test('an answer not cached (TTL 0) still replaces the one kept, which may not stand in for it later', async t => {
  const { app, fake, clock } = await buildTestApp(t, { CACHE_NOT_FOUND_TTL_MS: '0', CACHE_FINAL_TTL_MS: '0', UPSTREAM_RETRIES: '0' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.links.set(PAID_ID, upstreamLink(PAID_ID))
  await get(app, ACTIVE_ID)
  await get(app, PAID_ID)
  clock.advance(3000)
  fake.links.delete(ACTIVE_ID)
  fake.links.set(PAID_ID, upstreamLink(PAID_ID, { paymentLink: { payment_link_status: 'Paid' } }))
  t.equal((await get(app, ACTIVE_ID)).statusCode, 404)
  t.equal((await get(app, PAID_ID)).json().state, 'paid')
  t.equal(app.cache.size, 0, 'neither older answer is kept')
  fake.always('status', { status: 503 })
  const gone = await get(app, ACTIVE_ID)
  t.equal(gone.statusCode, 502, 'not the link answered before its 404')
  const paid = await get(app, PAID_ID)
  t.equal(paid.statusCode, 502, 'not "active" after "paid"')
  t.equal(paid.headers['cache-status'], 'k2-bff; fwd=miss; fwd-status=503')
})

t.test('an answer larger than CACHE_MAX_BYTES allows one entry is not said to be stored, nor kept', async t => {
  const { app, fake } = await buildTestApp(t, { CACHE_MAX_BYTES: '1024' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  t.equal((await get(app, ACTIVE_ID)).headers['cache-status'], 'k2-bff; fwd=miss; stored', 'a small answer fits')
  fake.links.set(PAID_ID, upstreamLink(PAID_ID, { note: 'n'.repeat(900), paymentLink: { payment_link_status: 'Paid' } }))
  for (let i = 0; i < 2; i++) t.equal((await get(app, PAID_ID)).headers['cache-status'], 'k2-bff; fwd=miss', 'fetched, not kept')
  t.equal(fake.calls('status').length, 3)
})

t.test('TTLs of 0 turn caching off', async t => {
  const { app, fake } = await buildTestApp(t, { CACHE_TTL_MS: '0', CACHE_NOT_FOUND_TTL_MS: '0' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  t.equal((await get(app, ACTIVE_ID)).headers['cache-status'], 'k2-bff; fwd=miss')
  t.equal((await get(app, ACTIVE_ID)).headers['cache-status'], 'k2-bff; fwd=miss')
  t.equal((await get(app, PAID_ID)).headers['cache-status'], 'k2-bff; fwd=miss; fwd-status=404')
  await get(app, PAID_ID)
  t.equal(fake.calls('status').length, 4)
})

t.test('a cached id holds only its own characters, not the URL it was cut from', async t => {
  // V8 keeps a cut string as a view of the whole: with the bounds raised,
  // 47,000 404s for ids in 2 KB URLs kept every URL and ran the heap out.
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const cache = new LinkCache({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, clock: new ManualClock() })
  const query = 'q'.repeat(50_000)
  gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < 2000; i++) {
    const url = `/payment-links/00000000-0000-4000-8000-${String(i).padStart(12, '0')}?${query}`
    cache.set(url.slice('/payment-links/'.length, '/payment-links/'.length + 36), { found: false, freshUntil: 1000, staleUntil: 2000 })
  }
  gc()
  const grownMiB = (process.memoryUsage().heapUsed - before) / 2 ** 20
  t.equal(cache.size, 2000)
  t.ok(grownMiB < 20, `the heap grew ${grownMiB.toFixed(1)} MiB for 2,000 entries (their URLs would take 95 MiB)`)
})

t.test('the LRU stays inside its entry and byte bounds under 100k distinct ids', async t => {
  const clock = new ManualClock()
  const evicted = { byCount: 0, byBytes: 0 }
  const byCount = new LinkCache({ maxEntries: 1000, maxBytes: 64 * 1024 * 1024, clock, onEvict: () => { evicted.byCount++ } })
  const byBytes = new LinkCache({ maxEntries: 1_000_000, maxBytes: 256 * 1024, clock, onEvict: () => { evicted.byBytes++ } })
  const body = Buffer.alloc(400, 'x')
  // 400 body bytes, 3 of ETag and the 200 counted for the entry's bookkeeping.
  const entryBytes = 603
  for (let i = 0; i < 100_000; i++) {
    const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`
    const entry = { found: true as const, body, etag: '"e"', freshUntil: clock.now() + 1000, staleUntil: clock.now() + 2000 }
    byCount.set(id, entry)
    byBytes.set(id, entry)
  }
  t.equal(byCount.size, 1000)
  t.equal(evicted.byCount, 99_000, 'every entry pushed out is reported')
  t.equal(byBytes.size, Math.floor(256 * 1024 / entryBytes))
  t.equal(byBytes.bytes, byBytes.size * entryBytes)
  t.equal(evicted.byBytes, 100_000 - byBytes.size)
  const newest = '00000000-0000-4000-8000-000000099999'
  t.ok(byCount.get(newest), 'the most recent entries stay')
  t.equal(byCount.get('00000000-0000-4000-8000-000000000000'), undefined, 'the oldest are evicted')

  byCount.set(newest, { found: false, freshUntil: clock.now() + 1000, staleUntil: clock.now() + 2000 })
  clock.advance(2000)
  t.equal(byCount.get(newest), undefined, 'dropped once past its stale window')
  t.equal(evicted.byCount, 99_000, 'neither a replaced entry nor an expired one counts as evicted')

  // The 999 others are past their stale window too: pushing them out loses nothing.
  for (let i = 0; i < 1000; i++) {
    byCount.set(`11111111-0000-4000-8000-${String(i).padStart(12, '0')}`, { found: false, freshUntil: clock.now() + 1000, staleUntil: clock.now() + 2000 })
  }
  t.equal(byCount.size, 1000)
  t.equal(evicted.byCount, 99_000, 'entries past their stale window leave unreported')
  byCount.set('22222222-0000-4000-8000-000000000000', { found: false, freshUntil: clock.now() + 1000, staleUntil: clock.now() + 2000 })
  t.equal(evicted.byCount, 99_001, 'a live one is reported')
})
