import t from 'tap'
import { ACTIVE_ID, buildTestApp } from '../helpers/app.js'
import { upstreamLink } from '../helpers/fake-kopokopo.js'
import { exchange } from '../helpers/wire.js'

// The fast path's answers on the wire, byte for byte, against Fastify's for
// the same hit (reached with a trailing `?`), for requests of every framing a
// client may send: HTTP/1.0, Connection: close, expectations, pipelining,
// duplicate headers. Each exchange ends with a probe that closes the
// connection, so that what is compared is everything the service sent on it.

const path = `/payment-links/${ACTIVE_ID}`
const CLOSE = 'GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'

// What differs between any two answers: the date, a generated request id (a problem's too), the budget left.
const normalize = (text: string) => text
  .replace(/^date: .*\r\n/gim, '')
  .replace(/^x-request-id: [0-9a-f-]{36}\r\n/gim, 'x-request-id: <generated>\r\n')
  .replace(/"requestId":"[0-9a-f-]{36}"/g, '"requestId":"<generated>"')
  .replace(/^x-ratelimit-(remaining|reset): \d+\r\n/gim, '')

const cases: Array<[string, (target: string) => string]> = [
  ['HTTP/1.1', p => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n${CLOSE}`],
  ['Connection: close', p => `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
  ['HTTP/1.0 without Host', p => `GET ${p} HTTP/1.0\r\n\r\n`],
  ['HTTP/1.0 keep-alive', p => `GET ${p} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n${CLOSE}`],
  ['Expect: 100-continue without a body', p => `GET ${p} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n${CLOSE}`],
  ['another expectation', p => `GET ${p} HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n${CLOSE}`],
  ['Content-Length: 0', p => `GET ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n${CLOSE}`],
  ['If-None-Match twice', p => `GET ${p} HTTP/1.1\r\nHost: x\r\nIf-None-Match: "a"\r\nIf-None-Match: *\r\n\r\n${CLOSE}`],
  ['X-Request-Id twice', p => `GET ${p} HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\r\nX-Request-Id: b\r\n\r\n${CLOSE}`],
  ['an empty Host', p => `GET ${p} HTTP/1.1\r\nHost:\r\n\r\n${CLOSE}`],
  ['three pipelined', p => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`.repeat(3) + CLOSE],
  ['pipelined after Connection: close', p => `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`],
  ['HTTP/1.0, then pipelined', p => `GET ${p} HTTP/1.0\r\n\r\nGET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`]
]

// Refused by Fastify on both paths: the fast path must not answer these.
const refused: Array<[string, (target: string) => string]> = [
  ['Host twice', p => `GET ${p} HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n${CLOSE}`],
  ['a Host with a path', p => `GET ${p} HTTP/1.1\r\nHost: x/y\r\n\r\n${CLOSE}`]
]

const configs: Array<Record<string, string>> = [
  {},
  { API_KEYS: 'key-one-not-real' },
  { CORS_ORIGINS: 'https://shop.example' },
  { TRUST_PROXY: 'true' }
]

for (const env of configs) {
  t.test(`on the wire, ${JSON.stringify(env)}: the fast path's answers are Fastify's`, async t => {
    const built = await buildTestApp(t, { RATE_LIMIT_MAX: '100000', ...env })
    built.fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
    const handled: string[] = []
    built.app.addHook('onResponse', (request, _reply, done) => {
      handled.push(request.url)
      done()
    })
    await built.app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = built.app.server.address() as { port: number }
    const send = async (text: string) => await exchange(port, text)
    // Each request carries what this configuration asks of a caller.
    const headers = ('API_KEYS' in env ? 'X-API-Key: key-one-not-real\r\n' : '') +
      ('CORS_ORIGINS' in env ? 'Origin: https://shop.example\r\n' : '') +
      ('TRUST_PROXY' in env ? 'X-Forwarded-For: 203.0.113.7\r\n' : '')
    const withHeaders = (text: string) => text.replace(/(GET \/payment-links\/[^\r]*\r\n)/g, `$1${headers}`)

    await send(withHeaders(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`))
    for (const [name, make] of cases) {
      handled.length = 0
      const fast = await send(withHeaders(make(path)))
      const hits = (fast.match(/cache-status: k2-bff; hit/g) ?? []).length
      const byFastify = handled.filter(url => url === path).length
      const routed = await send(withHeaders(make(`${path}?`)))
      t.equal(normalize(fast), normalize(routed), name)
      // The first hit on each connection; one queued behind an unsent answer waits for Fastify.
      t.equal(hits - byFastify, 1, `${name}: one of ${hits} by the fast path`)
    }
    for (const [name, make] of refused) {
      const fast = await send(withHeaders(make(path)))
      t.match(fast, /^HTTP\/1\.1 400 /, name)
      t.equal(normalize(fast), normalize(await send(withHeaders(make(`${path}?`)))), name)
    }
  })
}

t.test('an HTTP/1.0 request that says keep-alive and close too has its connection closed, on both paths (RFC 9112 9.3)', async t => {
  const built = await buildTestApp(t)
  built.fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await built.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = built.app.server.address() as { port: number }
  await exchange(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
  for (const target of [path, `${path}?`, '/health/live']) {
    for (const connection of ['keep-alive, close', 'close, keep-alive', 'Keep-Alive,Close']) {
      const answer = await exchange(port, `GET ${target} HTTP/1.0\r\nConnection: ${connection}\r\n\r\n${CLOSE}`)
      const name = `${target} with Connection: ${connection}`
      t.equal(answer.match(/HTTP\/1\.1 \d{3} /g)?.length, 1, `${name}: one answer, the connection then closed`)
      t.match(answer, /\r\nconnection: close\r\n/i, name)
    }
  }
  const kept = await exchange(port, `GET ${path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n${CLOSE}`)
  t.equal(kept.match(/HTTP\/1\.1 \d{3} /g)?.length, 2, 'keep-alive alone keeps it')
})
