import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Agent, request } from 'undici'
import { SEED_IDS } from '../../src/simulator/seed.js'
import { TEST_CLIENT_ID, TEST_CLIENT_SECRET, gate, upstreamLink } from '../helpers/fake-kopokopo.js'
import { listeningUrl, serveAgainstFake, spawnServer } from '../helpers/process.js'
import { ACTIVE_ID, sample } from '../helpers/app.js'

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await new Promise(resolve => server.once('listening', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

const PACKAGE_VERSION = (JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

const EXPECTED_STATES = {
  pending: 'pending',
  active: 'active',
  paid: 'paid',
  expired: 'expired',
  cancelled: 'cancelled',
  failed: 'failed',
  activeButExpired: 'expired'
}

t.test('npm start with no credentials runs on the built-in simulator', async t => {
  const metricsPort = await freePort()
  const server = await spawnServer({ PORT: '0', METRICS_PORT: String(metricsPort) })
  t.teardown(() => { server.child.kill('SIGKILL') })
  const url = await listeningUrl(server)
  const banner = await server.waitForLine(l => l.seededIds !== undefined)
  t.match(banner, { level: 40, msg: /simulator/, docs: `${url}/docs`, seededIds: SEED_IDS })
  t.match(await server.waitForLine(l => l.msg === 'starting'), { upstream: 'simulator', k2Origin: banner.upstream })

  const ready = await request(`${url}/health/ready`)
  t.equal(ready.statusCode, 200)
  t.same(await ready.body.json(), { status: 'ok', upstream: 'simulator' })

  for (const [name, id] of Object.entries(SEED_IDS)) {
    const res = await request(`${url}/payment-links/${id}`)
    t.equal(res.statusCode, 200, name)
    const link = await res.body.json() as { state: string, url: string | null }
    t.equal(link.state, EXPECTED_STATES[name as keyof typeof EXPECTED_STATES], name)
    if (name === 'failed') t.equal(link.url, null, 'failed: no page')
    else t.match(link.url, `${String(banner.upstream)}/links/`, `${name}: its page on the simulator`)
  }
  const metrics = await request(`http://127.0.0.1:${metricsPort}/metrics`)
  t.equal(metrics.statusCode, 200)
  t.equal(sample(await metrics.body.text(), 'k2bff_http_requests_total{route="/payment-links/:id",method="GET",status="200"}'), 7)
  t.equal((await request(`${url}/metrics`)).statusCode, 404)

  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
  t.notMatch(server.output(), 'simulator-client-secret', 'the simulator secret is not logged either')
})

t.test('on the simulator, K2_LINK_BASE_URL still says where relative payment pages are', async t => {
  const server = await spawnServer({ PORT: '0', METRICS_PORT: '0', K2_LINK_BASE_URL: 'https://pay.example.test' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  const url = await listeningUrl(server)
  // The paid link's page is relative, as Kopo Kopo may send it.
  const res = await request(`${url}/payment-links/${SEED_IDS.paid}`)
  t.equal((await res.body.json() as { url: string }).url, 'https://pay.example.test/links/aaaaaaaa-3333-4333-8333-333333333333')
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
})

t.test('bad configuration stops start-up with one message naming every variable', async t => {
  const server = await spawnServer({ PORT: 'x', CACHE_TTL_MS: '-5', K2_CLIENT_SECRET: 'lonely-secret-value', METRICS_PORT: '0' })
  t.equal(await server.exited, 1)
  t.match(server.output(), /^Invalid configuration \(3 variables\):\n {2}PORT: .*\n {2}CACHE_TTL_MS: .*\n {2}K2_CLIENT_ID: must be set together with K2_CLIENT_SECRET\n$/)
  t.notMatch(server.output(), 'lonely-secret-value')
})

t.test('a port that cannot be had stops start-up with a message naming its variables and their values', async t => {
  const taken = createServer().listen(0, '127.0.0.1')
  await new Promise(resolve => taken.once('listening', resolve))
  t.teardown(() => { taken.close() })
  const port = String((taken.address() as { port: number }).port)

  const api = await spawnServer({ PORT: port, METRICS_PORT: '0' })
  t.equal(await api.exited, 1)
  t.equal(api.output().split('\n').filter(l => !l.startsWith('{')).join('\n'),
    `Cannot listen on HOST/PORT (127.0.0.1:${port}): the port is already in use (EADDRINUSE).\n`)

  const metrics = await spawnServer({ PORT: '0', METRICS_PORT: port })
  t.equal(await metrics.exited, 1)
  t.match(metrics.output(), `Cannot listen on METRICS_HOST/METRICS_PORT (127.0.0.1:${port}): the port is already in use (EADDRINUSE).`)
  t.notMatch(metrics.output(), /\n\s+at /, 'no stack trace')

  // A link-local address without its zone (EINVAL where the machine has IPv6).
  const linkLocal = await spawnServer({ HOST: 'fe80::1', PORT: '0', METRICS_PORT: '0' })
  t.equal(await linkLocal.exited, 1)
  t.match(linkLocal.output().split('\n').filter(l => !l.startsWith('{')).join('\n'), /^Cannot listen on HOST\/PORT \(\[fe80::1\]:0\): [^\n]+ \(E[A-Z_]+\)\.\n$/)
})

t.test('production refuses to start without credentials', async t => {
  const server = await spawnServer({ NODE_ENV: 'production', PORT: '0', METRICS_PORT: '0' })
  t.equal(await server.exited, 1)
  t.match(server.output(), 'K2_CLIENT_ID: required when NODE_ENV=production')
  t.match(server.output(), 'K2_CLIENT_SECRET: required when NODE_ENV=production')
  t.match(server.output(), 'K2_BASE_URL: required when NODE_ENV=production')
})

t.test('a .env file is read, and the environment wins over it unless empty', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'k2-bff-env-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, '.env'), 'PORT=not-a-port\nCACHE_TTL_MS=later\n')
  // Empty counts as unset: the file's PORT stands for it.
  const fromFile = await spawnServer({ METRICS_PORT: '0', PORT: '' }, dir)
  t.equal(await fromFile.exited, 1)
  t.match(fromFile.output(), 'PORT: must be a whole number written in digits (got "not-a-port")')
  t.match(fromFile.output(), 'CACHE_TTL_MS')

  const overridden = await spawnServer({ PORT: '0', CACHE_TTL_MS: '1000', METRICS_PORT: '0' }, dir)
  t.teardown(() => { overridden.child.kill('SIGKILL') })
  const url = await listeningUrl(overridden)
  t.equal((await request(`${url}/health/live`)).statusCode, 200)
  overridden.child.kill('SIGTERM')
  t.equal(await overridden.exited, 0)
})

// One run from its start-up line to its last: each spawned service costs this
// file seconds of its timeout.
t.test('start-up line, then graceful shutdown: in-flight requests finish, new connections are refused, exit 0', async t => {
  // A deadline past tap's own timeout: the held request below ends only when the test releases it.
  const { fake, server, url } = await serveAgainstFake(t, { LOG_LEVEL: 'trace', UPSTREAM_TIMEOUT_MS: '600000' })
  // The version, Node, the upstream mode and the Kopo Kopo origin, never the credentials (checked below).
  t.same(server.lines().filter(l => l.msg === 'starting').map(({ time: _time, pid: _pid, hostname: _hostname, ...line }) => line), [{
    level: 30, msg: 'starting', version: PACKAGE_VERSION, node: process.version, upstream: 'kopokopo', k2Origin: fake.url
  }])
  const agent = new Agent({ connections: 2, keepAliveTimeout: 60_000 })
  t.teardown(() => agent.close())
  t.equal((await request(`${url}/health/ready`, { dispatcher: agent })).statusCode, 200)

  // Kopo Kopo holds the answer until the test releases it: the request stays
  // in flight through everything below.
  const held = gate()
  fake.always('status', { until: held.promise })
  const slow = request(`${url}/payment-links/${ACTIVE_ID}`, { dispatcher: agent })
  await fake.received('status', 1)
  server.child.kill('SIGTERM')
  await server.waitForLine(l => l.msg === 'shutting down')
  await server.waitForLine(l => l.msg === 'closing: no new connections; finishing the requests in flight')

  const port = Number(new URL(url).port)
  const tryConnect = async () => await new Promise<string>(resolve => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve('connected') })
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
  })
  // The listener stops right after that line, in the same turn of the
  // service's event loop, but the line may reach us first: poll briefly.
  let refused = await tryConnect()
  for (let i = 0; i < 40 && refused !== 'ECONNREFUSED'; i++) {
    await new Promise(resolve => setTimeout(resolve, 10))
    refused = await tryConnect()
  }
  t.equal(refused, 'ECONNREFUSED', 'no new connections once shutdown has begun')
  t.equal(fake.calls('status').length, 1, 'the slow request is still in flight')

  held.open()
  const res = await slow
  t.equal(res.statusCode, 200, 'the in-flight request completed')
  t.equal((await res.body.json() as { id: string }).id, ACTIVE_ID)
  t.equal(await server.exited, 0, server.output().slice(-3000))
  t.match(server.lines().at(-1), { level: 30, msg: 'shut down', exitCode: 0, durationMs: Number }, 'the last line says it is done')
  t.notOk(server.lines().some(l => l.msg === 'metrics listening'), 'METRICS_PORT=0: no metrics listener')

  const output = server.output()
  t.notMatch(output, TEST_CLIENT_ID, 'no client id in logs at trace level')
  t.notMatch(output, TEST_CLIENT_SECRET, 'no secret in logs at trace level')
  for (const token of fake.issued) t.notMatch(output, token, 'no access token in logs')
  const access = server.lines().find(l => l.msg === 'request' && l.route === '/payment-links/:id')
  t.match(access, { method: 'GET', status: 200, cache: 'k2-bff; fwd=miss; stored', upstreamStatus: 200, durationMs: Number, upstreamMs: Number, requestId: String })
})

t.test('requests that reach a closing service on a busy connection get its own answers, then the connection closes', async t => {
  const { fake, server, url } = await serveAgainstFake(t)
  const OTHER_ID = 'bbbbbbbb-0000-4000-8000-000000000009'
  fake.links.set(OTHER_ID, upstreamLink(OTHER_ID))
  await request(`${url}/health/ready`) // a token, so the calls below are status calls only
  const held = gate()
  fake.always('status', { until: held.promise })
  // Two connections, each busy with a lookup Kopo Kopo holds back.
  const port = Number(new URL(url).port)
  const open = (id: string) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    socket.on('data', chunk => { text += String(chunk) })
    socket.write(`GET /payment-links/${id} HTTP/1.1\r\nHost: bff\r\n\r\n`)
    return { socket, closed: new Promise<string>(resolve => socket.once('close', () => resolve(text))) }
  }
  const a = open(ACTIVE_ID)
  const b = open(OTHER_ID)
  await fake.received('status', 2)
  server.child.kill('SIGTERM')
  await server.waitForLine(l => l.msg === 'closing: no new connections; finishing the requests in flight')
  // Pipelined behind the lookups, they reach the app after closing began.
  a.socket.write('GET /health/ready HTTP/1.1\r\nHost: bff\r\nX-Request-Id: probe-1\r\n\r\n')
  b.socket.write(`GET /payment-links/${ACTIVE_ID} HTTP/1.1\r\nHost: bff\r\nX-Request-Id: probe-2\r\n\r\n`)
  held.open()

  // The answers on one connection, one after the other, cut by their Content-Length.
  const answers = (text: string) => {
    const parsed = []
    for (let rest = text; rest !== '';) {
      const end = rest.indexOf('\r\n\r\n')
      const [status = '', ...lines] = rest.slice(0, end).split('\r\n')
      const headers = Object.fromEntries(lines.map(l => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
      const length = Number(headers['content-length'])
      parsed.push({ status, headers, body: rest.slice(end + 4, end + 4 + length) })
      rest = rest.slice(end + 4 + length)
    }
    return parsed
  }
  const [, ready] = answers(await a.closed)
  t.equal(ready?.status, 'HTTP/1.1 503 Service Unavailable')
  t.same(JSON.parse(ready?.body ?? ''), { status: 'draining', upstream: 'kopokopo' }, 'the readiness document, not Fastify\'s')
  t.match(ready?.headers, { 'cache-control': 'no-store', 'x-request-id': 'probe-1', connection: 'close', 'x-content-type-options': 'nosniff' })
  const [first, link] = answers(await b.closed)
  t.equal(first?.status, 'HTTP/1.1 200 OK')
  t.equal(link?.status, 'HTTP/1.1 200 OK', 'a lookup is still answered')
  t.equal((JSON.parse(link?.body ?? '') as { id: string }).id, ACTIVE_ID)
  // Handled only once the answer before it on its connection had gone: by then
  // the other connection's lookup had cached the link, or (if Kopo Kopo's
  // answers came back the other way round) was still waiting for it.
  t.match(link?.headers, { 'cache-status': /^k2-bff; (hit; ttl=\d+|fwd=miss; collapsed)$/, 'x-request-id': 'probe-2', connection: 'close' })
  t.equal(await server.exited, 0, server.output().slice(-3000))
  t.equal(fake.calls('status').length, 2, 'no call to Kopo Kopo beyond the two held back')
})

t.test('SHUTDOWN_DRAIN_DELAY_MS: readiness turns 503 while requests are still served, then exit 0', async t => {
  const { server, url } = await serveAgainstFake(t, { SHUTDOWN_DRAIN_DELAY_MS: '1500' })
  t.equal((await request(`${url}/health/ready`)).statusCode, 200)

  server.child.kill('SIGTERM')
  t.match(await server.waitForLine(l => l.msg === 'shutting down'), { signal: 'SIGTERM', drainDelayMs: 1500 })
  // New connections during the delay: the probe says go away, the traffic is still answered.
  const ready = await request(`${url}/health/ready`, { reset: true })
  t.equal(ready.statusCode, 503)
  t.same(await ready.body.json(), { status: 'draining', upstream: 'kopokopo' })
  const link = await request(`${url}/payment-links/${ACTIVE_ID}`, { reset: true })
  t.equal(link.statusCode, 200)
  t.equal((await link.body.json() as { id: string }).id, ACTIVE_ID)
  t.equal(await server.exited, 0, server.output().slice(-3000))
  const done = server.lines().at(-1)
  t.match(done, { msg: 'shut down', exitCode: 0 })
  t.ok(Number(done?.durationMs) >= 1500, 'the duration counts the drain delay')
})

t.test('shutdown completes even when the reader of its log has gone', async t => {
  const server = await spawnServer({ PORT: '0', METRICS_PORT: '0' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  await listeningUrl(server)
  await server.waitForLine(l => l.msg === 'NO KOPO KOPO CREDENTIALS SET: serving the built-in Kopo Kopo simulator with seeded payment links')
  server.child.stdout?.destroy() // a log shipper that died
  server.child.kill('SIGTERM')
  const bound = new Promise(resolve => setTimeout(() => resolve('still running 5 s after SIGTERM'), 5000).unref())
  t.equal(await Promise.race([server.exited, bound]), 0)
})

t.test('a second signal during shutdown exits at once', async t => {
  // A deadline and a shutdown timeout past tap's own timeout, and Kopo Kopo
  // never answers: only the second signal can end the request and the process.
  const { fake, server, url } = await serveAgainstFake(t, { UPSTREAM_TIMEOUT_MS: '600000', SHUTDOWN_TIMEOUT_MS: '600000' })
  const held = gate()
  fake.always('status', { until: held.promise })
  const slow = request(`${url}/payment-links/${ACTIVE_ID}`).catch((err: Error) => err)
  await fake.received('status', 1)
  server.child.kill('SIGTERM')
  await server.waitForLine(l => l.msg === 'shutting down')
  server.child.kill('SIGINT')
  t.equal(await server.exited, 1, 'abrupt exit, without waiting for the request in flight')
  t.type(await slow, Error, 'the in-flight request was cut off')
  t.match(server.lines().at(-1), { level: 40, signal: 'SIGINT', msg: 'second signal during shutdown: exiting 1 at once' }, 'and says why, last')
  t.notOk(server.lines().some(l => l.msg === 'shut down'), 'not claimed as a completed shutdown')
})

t.test('connections that sent no request, on either port, do not hold shutdown', async t => {
  // Were they to hold it, the cut's warning would come 20 s on (and the
  // metrics port's would keep the process until close-with-grace exits 1).
  const metricsPort = await freePort()
  const { server, url } = await serveAgainstFake(t, { METRICS_PORT: String(metricsPort), SHUTDOWN_TIMEOUT_MS: '20000' })
  await server.waitForLine(l => l.msg === 'metrics listening')
  // Resolves with the moment the service closes it (wrapped: a promise resolved with a promise waits for it).
  const open = async (port: number, send = '') => await new Promise<{ closed: Promise<void> }>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      if (send !== '') socket.write(send)
      resolve({ closed: new Promise(resolve => socket.once('close', () => { resolve() })) })
    })
    socket.once('error', reject)
  })
  const sockets = await Promise.all([
    // A preconnect on the public port, and on the metrics port a TCP probe and a scrape's half-sent request.
    open(Number(new URL(url).port)),
    open(metricsPort),
    open(metricsPort, 'GET /metrics HTTP/1.1\r\nHost: x\r\n')
  ])
  // A barrier: the service has taken the connections above before this answer.
  t.equal((await request(`${url}/health/live`)).statusCode, 200)
  server.child.kill('SIGTERM')
  await Promise.all(sockets.map(async ({ closed }) => { await closed }))
  t.equal(await server.exited, 0, server.output().slice(-3000))
  t.notOk(server.lines().some(l => l.msg === 'SHUTDOWN_TIMEOUT_MS has passed: closing the connections still open'), 'nothing was left to cut')
  t.match(server.lines().at(-1), { msg: 'shut down', exitCode: 0 })
})

t.test('past SHUTDOWN_TIMEOUT_MS the connections still open are cut, with a warning, and the process exits 0', async t => {
  // Kopo Kopo never answers and the deadline is past tap's timeout: only the
  // shutdown timeout (300 ms, on the service's real clock) can end the request.
  // One pool connection for two lookups: the second waits in undici's queue,
  // whose close() a destroy() alone would never settle.
  const { fake, server, url } = await serveAgainstFake(t, { UPSTREAM_TIMEOUT_MS: '600000', SHUTDOWN_TIMEOUT_MS: '300', UPSTREAM_CONNECTIONS: '1' })
  const held = gate()
  t.teardown(held.open)
  fake.always('status', { until: held.promise })
  const stuck = request(`${url}/payment-links/${ACTIVE_ID}`).catch((err: Error) => err)
  const queued = request(`${url}/payment-links/bbbbbbbb-0000-4000-8000-000000000009`).catch((err: Error) => err)
  await fake.received('status', 1)
  // A barrier: by this answer, the second lookup has reached the service and waits for the pool's one connection.
  t.equal((await request(`${url}/health/live`)).statusCode, 200)
  server.child.kill('SIGTERM')
  const warning = await server.waitForLine(l => l.msg === 'SHUTDOWN_TIMEOUT_MS has passed: closing the connections still open')
  t.equal(warning.level, 40)
  t.equal(warning.connections, 2)
  t.equal(warning.shutdownTimeoutMs, 300)
  t.equal(await server.exited, 0, server.output().slice(-3000))
  t.type(await stuck, Error, 'the request that would not finish was cut off')
  t.type(await queued, Error, 'and the one queued for a pool connection')
})

t.test('the cut also ends calls still queued for a pool connection after their clients left', async t => {
  const { fake, server, url } = await serveAgainstFake(t, { UPSTREAM_TIMEOUT_MS: '600000', SHUTDOWN_TIMEOUT_MS: '300', UPSTREAM_CONNECTIONS: '1' })
  fake.links.set('bbbbbbbb-0000-4000-8000-000000000009', upstreamLink('bbbbbbbb-0000-4000-8000-000000000009'))
  t.equal((await request(`${url}/health/ready`)).statusCode, 200, 'a token first: the lookups below are status calls only')
  const held = gate()
  t.teardown(held.open)
  fake.always('status', { until: held.promise })
  const port = Number(new URL(url).port)
  const clients = [ACTIVE_ID, 'bbbbbbbb-0000-4000-8000-000000000009'].map(id => {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.write(`GET /payment-links/${id} HTTP/1.1\r\nHost: x\r\n\r\n`)
    return socket
  })
  await fake.received('status', 1)
  // Barriers: each answer comes after the service has taken in what was sent before it.
  t.equal((await request(`${url}/health/live`)).statusCode, 200)
  for (const socket of clients) socket.destroy()
  t.equal((await request(`${url}/health/live`)).statusCode, 200)
  // With no connection left, closing goes straight to the pool, whose close()
  // waits on the held call and the one queued behind it.
  server.child.kill('SIGTERM')
  const warning = await server.waitForLine(l => l.msg === 'SHUTDOWN_TIMEOUT_MS has passed: closing the connections still open')
  t.equal(warning.connections, 0)
  t.equal(await server.exited, 0, server.output().slice(-3000))
  t.equal(fake.calls('status').length, 1, 'the queued call never went out')
})
