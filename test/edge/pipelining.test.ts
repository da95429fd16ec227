import { connect, type Socket } from 'node:net'
import t from 'tap'
import { MAX_QUEUED_REQUESTS } from '../../src/pipelining.js'
import { ACTIVE_ID, buildTestApp } from '../helpers/app.js'
import { gate, upstreamLink } from '../helpers/fake-kopokopo.js'

// Pipelined requests: several written on one connection before any answer is read.

const ids = Array.from({ length: MAX_QUEUED_REQUESTS + 4 }, (_, i) => `dddddddd-0000-4000-8000-${String(i).padStart(12, '0')}`)
const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`

async function serve (t: Parameters<typeof buildTestApp>[0]) {
  const built = await buildTestApp(t)
  for (const id of [ACTIVE_ID, ...ids]) built.fake.links.set(id, upstreamLink(id))
  await built.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (built.app.server.address() as { port: number }).port
  return { ...built, open: () => connect(port, '127.0.0.1') }
}

/** Everything the service sends on `socket` until it closes the connection. */
async function readAll (socket: Socket): Promise<string> {
  let text = ''
  for await (const chunk of socket) text += String(chunk)
  return text
}

// Answers follow one another on the wire, each right after the last one's body.
const statusLines = (text: string) => text.match(/HTTP\/1\.1 \d{3}/g) ?? []

t.test('pipelined requests are answered in order, each handled once the answer before it has gone', async t => {
  const { fake, open } = await serve(t)
  const held = gate()
  fake.enqueue('status', { until: held.promise })
  const socket = open()
  socket.write(get(`/payment-links/${ids[0]}`) + get(`/payment-links/${ids[1]}`) + get(`/payment-links/${ids[2]}`, 'Connection: close\r\n'))
  const answers = readAll(socket)
  await fake.received('status', 1)
  // A request on another connection, answered only after the pipelined ones
  // were parsed: had they been handled at once, they would have called Kopo Kopo by now.
  const other = open()
  other.end(get('/health/live', 'Connection: close\r\n'))
  t.match(await readAll(other), /^HTTP\/1\.1 200 /)
  t.same(fake.calls('status').map(r => r.path), [`/api/v2/payment_links/${ids[0]}`], 'the queued requests wait their turn')
  held.open()
  const text = await answers
  t.same(statusLines(text), ['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200'])
  t.same([...text.matchAll(/"id":"([^"]+)"/g)].map(m => m[1]), ids.slice(0, 3), 'in the order asked')
  t.same(fake.calls('status').map(r => r.path), ids.slice(0, 3).map(id => `/api/v2/payment_links/${id}`))
})

t.test('a connection that pipelines more than the limit without reading is closed, and the queued requests never run', async t => {
  const { fake, logs, open } = await serve(t)
  const held = gate()
  t.teardown(held.open)
  fake.enqueue('status', { until: held.promise })
  const socket = open()
  socket.write(ids.map(id => get(`/payment-links/${id}`)).join(''))
  const text = await readAll(socket)
  t.equal(text, '', 'closed without an answer')
  // The first request is being handled (its client gone); the barrier, as above.
  await fake.received('status', 1)
  const other = open()
  other.end(get('/health/live', 'Connection: close\r\n'))
  t.match(await readAll(other), /^HTTP\/1\.1 200 /)
  t.equal(fake.calls('status').length, 1, 'only the first request reached Kopo Kopo')
  const closing = logs.lines.filter(l => l.msg === 'closing a connection that pipelines more requests than it reads answers')
  t.equal(closing.length, 1)
  t.equal(closing[0]?.queued, MAX_QUEUED_REQUESTS)
  t.equal(closing[0]?.level, 40)
})

t.test('a request pipelined behind a refused body is never handled', async t => {
  const { fake, logs, open } = await serve(t)
  const socket = open()
  socket.write(get(`/payment-links/${ACTIVE_ID}`, 'Content-Length: 3\r\n') + 'abc' + get(`/payment-links/${ids[0]}`))
  const text = await readAll(socket)
  t.same(statusLines(text), ['HTTP/1.1 400'], 'the refusal, then the connection closes')
  // Another connection's answer as a barrier: the pipelined request would have run by then.
  const other = open()
  other.end(get('/health/live', 'Connection: close\r\n'))
  t.match(await readAll(other), /^HTTP\/1\.1 200 /)
  t.same(fake.requests.map(r => r.path), [], 'nothing reached Kopo Kopo, not even for a token')
  t.same(logs.lines.filter(l => l.msg === 'request').map(l => l.path), [`/payment-links/${ACTIVE_ID}`, '/health/live'])
})

t.test('a malformed request pipelined behind pending answers is refused after them, not in their place', async t => {
  const { fake, open } = await serve(t)
  const held = gate()
  fake.enqueue('status', { until: held.promise })
  const socket = open()
  socket.write(get(`/payment-links/${ids[0]}`) + get(`/payment-links/${ids[1]}`) + 'NOT HTTP\r\n\r\n')
  const answers = readAll(socket)
  await fake.received('status', 1)
  held.open()
  const text = await answers
  t.same(statusLines(text), ['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 400'], 'each request gets its own answer, then the refusal')
  t.same([...text.matchAll(/"id":"([^"]+)"/g)].map(m => m[1]), ids.slice(0, 2))
  t.match(text, /HTTP\/1\.1 400 Bad request\r\n[^]*"type":"[^"]*http-400"[^]*$/, 'the refusal is last, a problem document')
})

t.test('nothing is written after an answer that closed its connection, a waiting refusal included', async t => {
  const { fake, open } = await serve(t)
  const held = gate()
  fake.enqueue('status', { until: held.promise })
  const socket = open()
  socket.write(get(`/payment-links/${ids[0]}`, 'Connection: close\r\n') + 'NOT HTTP\r\n\r\n')
  const answers = readAll(socket)
  await fake.received('status', 1)
  held.open()
  t.same(statusLines(await answers), ['HTTP/1.1 200'])
})
