import { once } from 'node:events'
import type { IncomingMessage } from 'node:http'
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { CLIENT_IDLE_MARGIN_MS } from '../../src/app.js'
import { MAX_TIMER_MS } from '../../src/config.js'
import { ACTIVE_ID, buildTestApp } from '../helpers/app.js'
import { upstreamLink } from '../helpers/fake-kopokopo.js'

// Node's own socket timer, on the real clock: with UPSTREAM_TIMEOUT_MS=1 the
// limit is CLIENT_IDLE_MARGIN_MS and a millisecond. The tap timeout only
// bounds how long a failure takes to show.
const LIMIT_MS = 1 + CLIENT_IDLE_MARGIN_MS

async function listening (t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}) {
  const built = await buildTestApp(t, env)
  await built.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = built.app.server.address() as { port: number }
  // The server's side of each connection, once the app's own listeners have run.
  const accepted: Socket[] = []
  built.app.server.on('connection', (socket: Socket) => { accepted.push(socket) })
  // Until the server has seen `count` connections.
  const seen = async (count: number) => {
    while (accepted.length < count) await new Promise(resolve => setTimeout(resolve, 1))
  }
  return { ...built, port, accepted, seen }
}

// A wait on Kopo Kopo that a miss's answer fits in, for the tests that need one.
const WAIT_MS = 2000
const WAIT_LIMIT_MS = WAIT_MS + CLIENT_IDLE_MARGIN_MS

t.test('a connection that goes quiet mid-request is closed after the wait on Kopo Kopo plus a margin', { timeout: 4 * CLIENT_IDLE_MARGIN_MS }, async t => {
  const { app, port, accepted, seen } = await listening(t, { UPSTREAM_TIMEOUT_MS: '1' })
  // Node itself arms no timer per request on this server; the service arms its own (below).
  t.equal(app.server.timeout, 0)
  // Any further server Fastify builds (one per address a host name like
  // localhost resolves to) is made from this option, and Node times its connections.
  t.equal(app.initialConfig.connectionTimeout, LIMIT_MS)

  const silent = connect(port, '127.0.0.1')
  const partial = connect(port, '127.0.0.1')
  partial.write('GET /payment-links/')
  const started = performance.now()
  await seen(2)
  t.same(accepted.map(socket => socket.timeout), [LIMIT_MS, LIMIT_MS])
  // Bounded, so that a connection never closed fails the test rather than hangs it.
  const signal = AbortSignal.timeout(3 * CLIENT_IDLE_MARGIN_MS)
  await Promise.all([once(silent, 'close', { signal }), once(partial, 'close', { signal })])
  const waited = performance.now() - started
  // A timer never fires early: closed by the service's timer, not at once.
  t.ok(waited >= CLIENT_IDLE_MARGIN_MS - 100, `closed after ${Math.round(waited)} ms`)
})

t.test('the idle limit stays a timer Node can keep, whatever UPSTREAM_TIMEOUT_MS', async t => {
  // Past 2^31 - 1 ms, Node fires a timer after 1 ms: every connection would be cut at once.
  const { app, port, accepted, seen } = await listening(t, { UPSTREAM_TIMEOUT_MS: String(MAX_TIMER_MS) })
  t.equal(app.initialConfig.connectionTimeout, MAX_TIMER_MS)
  const client = connect(port, '127.0.0.1')
  t.teardown(() => client.destroy())
  await seen(1)
  t.equal(accepted[0]?.timeout, MAX_TIMER_MS)
})

t.test('every later request on a kept-alive connection is under the limit until its answer has gone', async t => {
  const { app, fake, port, accepted } = await listening(t, { UPSTREAM_TIMEOUT_MS: String(WAIT_MS) })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  // Each request's socket timer as the app's listener left it (this one runs after it).
  const armed: Array<[string, number | undefined]> = []
  app.server.on('request', (req: IncomingMessage) => { armed.push([req.url!, req.socket.timeout]) })

  const client = connect(port, '127.0.0.1')
  t.teardown(() => client.destroy())
  const get = async (path: string): Promise<string> => {
    client.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
    // Each answer is small: it arrives in one piece on loopback.
    const [chunk] = await once(client, 'data') as [Buffer]
    return chunk.toString('latin1')
  }
  const link = `/payment-links/${ACTIVE_ID}`
  t.match(await get(link), /^HTTP\/1\.1 200 .*cache-status: k2-bff; fwd=miss; stored/is)
  t.match(await get(link), /^HTTP\/1\.1 200 .*cache-status: k2-bff; hit/is)
  t.match(await get('/nowhere'), /^HTTP\/1\.1 404 /)
  t.same(armed, [
    // The first request runs under the connection's own timer.
    [link, WAIT_LIMIT_MS],
    // A hit's answer went at once: nothing to time until the next request.
    [link, 0],
    ['/nowhere', WAIT_LIMIT_MS]
  ])
  // Between requests, Node's keep-alive timer (Node 20 and 24 add a margin of their own).
  t.equal(accepted.length, 1)
  t.ok(accepted[0]!.timeout! >= app.server.keepAliveTimeout, `${accepted[0]!.timeout} ms`)
})

t.test('a hit whose answer cannot all be written, its client not reading, is under the limit', async t => {
  // A budget that lasts: a refusal would not be a hit.
  const { app, fake, port } = await listening(t, { UPSTREAM_TIMEOUT_MS: String(WAIT_MS), RATE_LIMIT_MAX: '1000000' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const link = `/payment-links/${ACTIVE_ID}`
  const first = await fetch(`http://127.0.0.1:${port}${link}`)
  t.equal(first.headers.get('cache-status'), 'k2-bff; fwd=miss; stored')
  await first.arrayBuffer()
  // Hits the fast path answered (it ends the answer; Fastify would not have yet) whose bytes wait in the socket.
  const stuck: Array<number | undefined> = []
  let answered = 0
  app.server.on('request', (req: IncomingMessage, res) => {
    if (!res.writableEnded) return
    answered++
    if (req.socket.writableLength > 0) stuck.push(req.socket.timeout)
  })

  // Hits, never read, one after another (each one's answer gone before the
  // next comes), until the kernel's buffers are full and an answer waits in the socket.
  const client = connect(port, '127.0.0.1')
  t.teardown(() => client.destroy())
  client.pause()
  await once(client, 'connect')
  for (let sent = 0; stuck.length === 0 && sent < 100_000; sent++) {
    client.write(`GET ${link} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
    await once(app.server, 'request')
    await new Promise(resolve => setImmediate(resolve))
  }
  t.ok(answered > 100, `${answered} hits answered before one waited`)
  t.same(stuck, [WAIT_LIMIT_MS])
})
