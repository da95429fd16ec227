import t from 'tap'
import { ACTIVE_ID, PAID_ID, buildTestApp } from '../helpers/app.js'
import { upstreamLink } from '../helpers/fake-kopokopo.js'

// Several instances of the service behind one load balancer share nothing
// (README, Several instances): each holds its own token and cache. What
// callers need from that is one answer whichever instance they reach: the
// same bytes and the same ETag, so that a page's If-None-Match is a 304 from
// any of them.

const path = (id: string) => `/payment-links/${id}`

t.test('two instances, one Kopo Kopo: the same answer and ETag from either, each with its own token and cache', async t => {
  const a = await buildTestApp(t)
  const b = await buildTestApp(t, {}, {}, a.fake)
  const kopokopo = a.fake
  kopokopo.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))

  const fromA = await a.app.inject(path(ACTIVE_ID))
  const fromB = await b.app.inject(path(ACTIVE_ID))
  t.equal(fromA.statusCode, 200)
  t.equal(fromB.statusCode, 200)
  t.equal(fromB.headers['cache-status'], 'k2-bff; fwd=miss; stored', "A's cache is not B's: B asked Kopo Kopo too")
  t.equal(fromB.body, fromA.body, 'the same bytes')
  t.match(fromA.headers.etag, /^"[\w-]{27}"$/)
  t.equal(fromB.headers.etag, fromA.headers.etag, 'the same ETag: it is made from the bytes alone')

  const revalidated = await b.app.inject({ url: path(ACTIVE_ID), headers: { 'if-none-match': fromA.headers.etag! } })
  t.equal(revalidated.statusCode, 304, "a page revalidating with A's ETag at B")
  t.equal(revalidated.headers['cache-status'], 'k2-bff; hit; ttl=3')
  t.equal(revalidated.body, '')

  t.same(kopokopo.calls('token').map(call => call.path), ['/oauth/token', '/oauth/token'], 'a token each')
  t.same(kopokopo.calls('status').map(call => call.headers.authorization), ['Bearer test-token-1', 'Bearer test-token-2'],
    'one status call each, each with its own token')
  t.equal(kopokopo.requests.length, 4, 'and nothing else')
})

t.test('should Kopo Kopo end a token when it issues another, the instance holding it recovers on its next call', async t => {
  const a = await buildTestApp(t)
  const b = await buildTestApp(t, {}, {}, a.fake)
  const kopokopo = a.fake
  kopokopo.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  kopokopo.links.set(PAID_ID, upstreamLink(PAID_ID, { paymentLink: { payment_link_status: 'Paid' } }))
  t.equal((await a.app.inject(path(ACTIVE_ID))).statusCode, 200)
  t.equal((await b.app.inject(path(ACTIVE_ID))).statusCode, 200)
  // Whether it does is not published; if it did, B's token ended A's.
  kopokopo.revoke('test-token-1')

  const res = await a.app.inject(path(PAID_ID))
  t.equal(res.statusCode, 200)
  t.equal(res.json().state, 'paid')
  t.same(kopokopo.calls('status').slice(2).map(call => [call.path, call.headers.authorization]), [
    [`/api/v2/payment_links/${PAID_ID}`, 'Bearer test-token-1'],
    [`/api/v2/payment_links/${PAID_ID}`, 'Bearer test-token-3']
  ], "A's call with the ended token, a 401, then once again with a new one")
  t.equal(kopokopo.calls('token').length, 3, 'one token call more than the two instances needed')
})
