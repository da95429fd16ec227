import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect } from 'node:net'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import t, { type Test } from 'tap'
import { Agent, type Dispatcher } from 'undici'
import { buildTestApp, problem, sample, type Teardown, type TestApp } from '../helpers/app.js'
import { gate, upstreamLink } from '../helpers/fake-kopokopo.js'

const idsOf = (group: string, count: number) => Array.from({ length: count }, (_, i) => `dddddddd-0000-4000-8000-${group}${String(i).padStart(12 - group.length, '0')}`)
const ids = idsOf('', 12)

/**
 * The app with Kopo Kopo holding each status call `callMs` (500 by default),
 * which its first call, for `links[0]`, has taught it: the pace the tests of
 * waiting for a connection reason from. No retries, and a circuit that stays closed.
 */
async function paced (t: Test, env: Record<string, string>, { links = ids, callMs = 500 } = {}) {
  const built = await buildTestApp(t, { UPSTREAM_RETRIES: '0', CIRCUIT_FAILURE_THRESHOLD: '100', ...env })
  for (const id of links) built.fake.links.set(id, upstreamLink(id))
  built.fake.always('status', { delayMs: callMs })
  t.equal((await built.app.inject(`/payment-links/${links[0]!}`)).statusCode, 200, `a call takes ${callMs} ms`)
  return built
}

/** The value of a metric without labels (a counter or gauge). */
async function metric (app: TestApp['app'], name: string): Promise<number | undefined> {
  return sample(await app.metrics.registry.getSingleMetricAsString(name), name)
}

/** Sleeps until `ms` after the moment it was made (Kopo Kopo's delays are on the real clock too). */
function timeline () {
  const start = performance.now()
  return {
    until: async (ms: number) => await new Promise(resolve => setTimeout(resolve, ms - (performance.now() - start))),
    elapsed: () => performance.now() - start
  }
}

t.test('one keep-alive pool: sequential calls reuse their connections', async t => {
  const { app, fake } = await buildTestApp(t)
  for (const id of ids) fake.links.set(id, upstreamLink(id))
  for (const id of ids.slice(0, 5)) t.equal((await app.inject(`/payment-links/${id}`)).statusCode, 200)
  t.equal(fake.requests.length, 6, 'one token call, five status calls')
  // The pool may open a second socket while the token call's is being
  // released, then rotates over both; it never opens one per call.
  const connections = new Set(fake.requests.map(r => r.port)).size
  t.ok(connections <= 2, `6 calls over ${connections} connection(s)`)
})

t.test('UPSTREAM_CONNECTIONS caps the connections to Kopo Kopo under concurrency', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_CONNECTIONS: '3' })
  for (const id of ids) fake.links.set(id, upstreamLink(id))
  // Every answer is held until three calls are out at once: one connection
  // carries one call at a time, so by then three connections are open.
  const answers = await fake.holdUntilReceived('status', 3, () => ids.map(async id => await app.inject(`/payment-links/${id}`)))
  t.ok(answers.every(a => a.statusCode === 200))
  t.equal(fake.calls('status').length, ids.length)
  const connections = new Set(fake.requests.map(r => r.port)).size
  t.ok(connections > 1, `${connections} connections: concurrent calls do spread out`)
  t.ok(connections <= 3, `${connections} connections: never more than the cap`)
})

t.test('calls beyond UPSTREAM_CONNECTIONS wait in the service: once the circuit opens, none of them goes out', async t => {
  // undici's own queue kept them: each went out when a connection freed up,
  // the circuit open, and each one aborted there cost a connection.
  const { app, fake } = await buildTestApp(t, {
    UPSTREAM_CONNECTIONS: '2', UPSTREAM_TIMEOUT_MS: '1000', UPSTREAM_RETRIES: '0', CIRCUIT_FAILURE_THRESHOLD: '1'
  })
  for (const id of ids) fake.links.set(id, upstreamLink(id))
  t.equal((await app.inject(`/payment-links/${ids[0]!}`)).statusCode, 200, 'a token, and a connection')
  const hung = gate()
  t.teardown(() => hung.open())
  fake.always('status', { until: hung.promise })
  const first = ids.slice(1, 3).map(async id => await app.inject(`/payment-links/${id}`))
  await fake.received('status', 3)
  // Later, so that they still have time left when the first two time out and open the circuit.
  await new Promise(resolve => setTimeout(resolve, 300))
  const queued = ids.slice(3).map(async id => await app.inject(`/payment-links/${id}`))
  t.strictSame((await Promise.all(first)).map(res => res.statusCode), [504, 504])
  const held = await Promise.all(queued)
  t.strictSame(held.map(res => res.statusCode), queued.map(() => 503), 'held back by the open circuit')
  t.ok(held.every(res => res.headers['cache-status'] === 'k2-bff; detail=circuit-open'), 'and no call went out for them')
  t.equal(fake.calls('status').length, 3, 'Kopo Kopo saw only the calls the connections carried')
  const metrics = await app.metrics.registry.getSingleMetricAsString('k2bff_upstream_requests_total')
  t.match(metrics, 'k2bff_upstream_requests_total{call="status",outcome="timeout"} 2', 'only calls that went out count as attempts')
})

t.test('a call that waited for a connection past its deadline is a 504 that names why in the log, and no attempt', async t => {
  // The slot is the connection's until undici is done with its request, which
  // for a handshake still under way comes after the deadline: here the first
  // status call reaches undici (and Kopo Kopo) only when the test says.
  const agent = new Agent()
  t.teardown(() => agent.close())
  const handOver = gate()
  t.teardown(() => handOver.open())
  const dispatched = gate()
  let statusCalls = 0
  const dispatcher = {
    request: async (options: Dispatcher.RequestOptions) => {
      if (options.path.startsWith('/api/v2/payment_links/') && statusCalls++ === 0) {
        dispatched.open()
        await handOver.promise
      }
      return await agent.request(options)
    }
  } as unknown as Dispatcher
  const { app, fake, logs } = await buildTestApp(t, { UPSTREAM_CONNECTIONS: '1', UPSTREAM_TIMEOUT_MS: '500', UPSTREAM_RETRIES: '0', CIRCUIT_FAILURE_THRESHOLD: '100' }, { dispatcher })
  for (const id of ids) fake.links.set(id, upstreamLink(id))
  const carried = app.inject(`/payment-links/${ids[1]!}`)
  await dispatched.promise
  const waiting = app.inject({ url: `/payment-links/${ids[2]!}`, headers: { 'x-request-id': 'waited-for-a-connection' } })
  const gauge = async (): Promise<number | undefined> => await metric(app, 'k2bff_upstream_waiting')
  let shown = await gauge()
  for (let turns = 0; shown === 0 && turns < 10_000; turns++) {
    await new Promise(resolve => setImmediate(resolve))
    shown = await gauge()
  }
  t.equal(shown, 1, 'k2bff_upstream_waiting shows the call waiting')
  const waited = await waiting
  t.equal(await gauge(), 0)
  t.equal(waited.statusCode, 504)
  t.equal(waited.headers['cache-status'], 'k2-bff; detail=timeout', 'no call went out for it (RFC 9211\'s fwd says one did)')
  const line = logs.lines.find(l => l.requestId === 'waited-for-a-connection' && l.level === 40)
  t.equal(line?.reason, 'no connection to Kopo Kopo came free')
  t.equal((await carried).statusCode, 504, 'the call on the connection had its deadline too')
  t.equal(fake.calls('status').length, 0, 'the waiting call never reached Kopo Kopo')
  const metrics = await app.metrics.registry.getSingleMetricAsString('k2bff_upstream_requests_total')
  t.match(metrics, 'k2bff_upstream_requests_total{call="status",outcome="timeout"} 1', 'nor counts as an attempt')
  handOver.open()
  t.equal((await app.inject(`/payment-links/${ids[3]!}`)).statusCode, 200, 'once undici is done with the held call, its slot serves the next')
})

t.test('a call that waited for a connection goes out only with the time a call takes lately still left', async t => {
  // Sent with less, it was cut off on its connection at the deadline (which
  // undici then closes), for an answer nobody waited for.
  const { app, fake, logs } = await paced(t, { UPSTREAM_CONNECTIONS: '1', UPSTREAM_TIMEOUT_MS: '1800' })
  // Then 800 ms, one call after another on the one connection: judged by the
  // 500 ms learned, each of the three expects its turn in time, but the third's
  // comes 1,600 ms in, with 200 ms of its 1,800 left.
  fake.always('status', { delayMs: 800 })
  const answers = await Promise.all(ids.slice(1, 4).map(async (id, i) =>
    await app.inject({ url: `/payment-links/${id}`, headers: { 'x-request-id': `in-turn-${i}` } })))
  t.strictSame(answers.map(res => res.statusCode), [200, 200, 504])
  t.equal(answers[2]!.headers['cache-status'], 'k2-bff; detail=timeout', 'no call went out for the last')
  t.equal(logs.lines.find(l => l.requestId === 'in-turn-2' && l.level === 40)?.reason, 'too little time left after waiting for a connection to Kopo Kopo')
  t.equal(fake.calls('status').length, 3)
  const metrics = await app.metrics.registry.getSingleMetricAsString('k2bff_upstream_requests_total')
  t.match(metrics, 'k2bff_upstream_requests_total{call="status",outcome="timeout"} 0', 'no call was cut off')
})

t.test('a call that would not get a connection in time is refused at once, not at its deadline', async t => {
  const { app, fake, logs, clock } = await paced(t, { UPSTREAM_CONNECTIONS: '1', UPSTREAM_TIMEOUT_MS: '2000', CACHE_TTL_MS: '1000' })
  clock.advance(2_000)
  // One connection, 500 ms a call: the first goes, two wait, and the queue
  // stands. 700 ms in, the second has been under way for 200 ms, and three
  // more come, with one, two and three calls waiting ahead of them: their
  // turns expected 800, 1,300 and 1,800 ms away, the last with 200 ms of its
  // 2,000 left.
  let answered = 0
  const count = async (id: string) => await app.inject(`/payment-links/${id}`).finally(() => answered++)
  const early = ids.slice(1, 4).map(count)
  await new Promise(resolve => setTimeout(resolve, 700))
  const late = ids.slice(4, 6).map(count)
  const refused = await app.inject({ url: `/payment-links/${ids[6]!}`, headers: { 'x-request-id': 'no-turn-in-time' } })
  t.equal(answered, 1, 'answered while all but the first were still to be')
  t.equal(refused.statusCode, 503)
  t.equal(refused.headers['cache-status'], 'k2-bff; detail=busy', 'no call went out for it')
  t.equal(refused.headers['retry-after'], '2', 'about when its turn would have come')
  t.strictSame(refused.json(), problem(refused, 'upstream-unavailable', 'Kopo Kopo is unavailable', 503,
    'Every connection to Kopo Kopo is busy, and this request would not get its turn in time; try again later.'))
  t.match(logs.lines.find(l => l.requestId === 'no-turn-in-time' && l.level === 40)?.reason,
    /^every connection to Kopo Kopo busy: about 1[6-9]\d\d ms to wait for one, 19\d\d ms left$/)
  const stale = await app.inject(`/payment-links/${ids[0]!}`)
  t.equal(stale.statusCode, 200, 'what is cached stands in, as in any outage')
  t.equal(stale.headers['cache-status'], 'k2-bff; fwd=stale; ttl=-1; detail=busy')
  t.strictSame((await Promise.all([...early, ...late])).map(res => res.statusCode), [200, 200, 200, 200, 200])
  t.equal(fake.calls('status').length, 6, 'Kopo Kopo never saw the refused ones')
  const metrics = await app.metrics.registry.getSingleMetricAsString('k2bff_upstream_requests_total')
  t.match(metrics, 'k2bff_upstream_requests_total{call="status",outcome="timeout"} 0')
  t.equal(await metric(app, 'k2bff_upstream_busy_total'), 2,
    'the refused request and the one the stale answer stood in for')
})

t.test('a burst, or a call whose turn may be near, is not refused on what earlier answers said', async t => {
  const { app, fake } = await paced(t, { UPSTREAM_CONNECTIONS: '1', UPSTREAM_TIMEOUT_MS: '900' })
  // The call under way ends about 80 ms after the second comes: its whole call fits.
  const first = app.inject(`/payment-links/${ids[1]!}`)
  await new Promise(resolve => setTimeout(resolve, 420))
  const second = app.inject(`/payment-links/${ids[2]!}`)
  t.strictSame([(await first).statusCode, (await second).statusCode], [200, 200])
  // Kopo Kopo is fast again, which no answer has said yet: eight calls at once
  // over one connection, seven whole 500 ms calls ahead of the last by the old
  // measure, and 20 ms each now.
  fake.always('status', { delayMs: 20 })
  const burst = await Promise.all(ids.slice(3, 11).map(async id => await app.inject(`/payment-links/${id}`)))
  t.strictSame(burst.map(res => res.statusCode), burst.map(() => 200), 'a queue that has not stood for a call\'s time is no evidence')
})

t.test('calls let in behind a burst without their turn in time do not count against those after them', async t => {
  const many = idsOf('1', 16)
  const { app } = await paced(t, { UPSTREAM_CONNECTIONS: '1', UPSTREAM_TIMEOUT_MS: '1800' }, { links: many })
  // Ten at once: three of them get a call in time; the other seven wait,
  // not counted, and leave without a call when their turn comes, 1,500 ms in.
  const burst = many.slice(1, 11).map(async id => await app.inject(`/payment-links/${id}`))
  // Then one request every 600 ms, below what one connection carries.
  const later: Array<Promise<{ statusCode: number }>> = []
  const time = timeline()
  for (const at of [600, 1200, 1800]) {
    await time.until(at)
    later.push(app.inject(`/payment-links/${many[11 + later.length]!}`))
  }
  t.strictSame((await Promise.all(burst)).map(res => res.statusCode), [200, 200, 200, 504, 504, 504, 504, 504, 504, 504])
  t.strictSame((await Promise.all(later)).map(res => res.statusCode), [200, 200, 200], 'each had a connection in time')
})

t.test('calls let in during a slow spell are served when Kopo Kopo turns fast again, not refused on the old pace', async t => {
  // Refusing them once the queue has stood, on the estimate that let them in
  // uncounted, would send them away just as Kopo Kopo can answer them.
  const many = idsOf('4', 21)
  const { app, fake } = await paced(t, { UPSTREAM_CONNECTIONS: '1', UPSTREAM_TIMEOUT_MS: '1800' }, { links: many })
  // Twenty at once: one goes, slow (600 ms); by the 500 ms learned, two of
  // those waiting expect their turn in time. Then every call takes 30 ms.
  fake.enqueue('status', { delayMs: 600 })
  fake.always('status', { delayMs: 30 })
  const answers = await Promise.all(many.slice(1).map(async id => (await app.inject(`/payment-links/${id}`)).statusCode))
  t.strictSame(answers, answers.map(() => 200))
  t.equal(await metric(app, 'k2bff_upstream_busy_total'), 0)
})

t.test('an answer that opens the circuit, or asks for a pause, gets the calls waiting told so, one after another', async t => {
  for (const [env, fault, detail, retryAfter] of [
    [{ CIRCUIT_FAILURE_THRESHOLD: '1' }, { status: 500 }, 'circuit-open', '10'],
    [{}, { status: 429, headers: { 'retry-after': '5' } }, 'paused', '5']
  ] as const) {
    const { app, fake } = await paced(t, { UPSTREAM_CONNECTIONS: '1', UPSTREAM_TIMEOUT_MS: '1800', ...env })
    // The call under way fails 550 ms in, after the queue has stood for a
    // call's time; five wait behind it, three of them not counted.
    fake.enqueue('status', { delayMs: 550, ...fault })
    const answers = await Promise.all(ids.slice(1, 7).map(async id => await app.inject(`/payment-links/${id}`)))
    t.strictSame(answers.slice(1).map(res => [res.statusCode, res.headers['cache-status'], res.headers['retry-after']]),
      answers.slice(1).map(() => [503, `k2-bff; detail=${detail}`, retryAfter]), `${fault.status}: every call waiting is told ${detail}`)
    t.equal(await metric(app, 'k2bff_upstream_busy_total'), 0)
    t.equal(fake.calls('status').length, 2, 'none of them went out')
  }
})

t.test('one call that stalled does not keep the calls after it from going out with time enough for a call', async t => {
  // Judged by an average of the last sixteen answers, the stall made a call
  // look 280 ms long for a while, and this one, with about 250 ms left for a
  // 100 ms call, was sent away.
  const { app, fake } = await paced(t, { UPSTREAM_CONNECTIONS: '1', UPSTREAM_TIMEOUT_MS: '4250' }, { callMs: 100 })
  fake.enqueue('status', { delayMs: 4000 })
  const stalled = app.inject(`/payment-links/${ids[1]!}`)
  const behind = app.inject(`/payment-links/${ids[2]!}`)
  t.equal((await stalled).statusCode, 200)
  t.equal((await behind).statusCode, 200, 'sent when its turn came, and answered in time')
  t.equal(fake.calls('status').length, 3)
})

t.test('a call whose turn is near is let in, though calls have waited all along', async t => {
  const { app } = await paced(t, { UPSTREAM_CONNECTIONS: '1', UPSTREAM_TIMEOUT_MS: '1700' })
  const time = timeline()
  // One call goes, two wait from the start; one more comes 600 ms in.
  const queued = ids.slice(1, 4).map(async id => await app.inject(`/payment-links/${id}`))
  await time.until(600)
  queued.push(app.inject(`/payment-links/${ids[4]!}`))
  // 980 ms in, the call under way (since 500 ms) is about to end: two calls
  // wait ahead, and this one's turn comes about 1,020 ms on, with 680 ms left.
  await time.until(980)
  const near = await app.inject(`/payment-links/${ids[5]!}`)
  t.equal(near.statusCode, 200)
  t.ok((await Promise.all(queued)).every(res => res.statusCode === 200))
})

t.test('one call that stalls does not get the calls waiting behind it refused', async t => {
  // Charged to each of them, a stall made every call after it look years away.
  const many = idsOf('2', 46)
  const { app, fake } = await paced(t, { UPSTREAM_CONNECTIONS: '1', RATE_LIMIT_MAX: '100000' }, { links: many, callMs: 50 })
  fake.enqueue('status', { delayMs: 3000 })
  // Ten a second for 4.5 s, half of what the one connection carries: thirty
  // calls queue behind the stall, and each has its turn within 1.5 s of its end.
  const time = timeline()
  const answers: Array<Promise<{ statusCode: number }>> = []
  for (const [i, id] of many.slice(1).entries()) {
    await time.until(i * 100)
    answers.push(app.inject(`/payment-links/${id}`))
  }
  const statuses = (await Promise.all(answers)).map(res => res.statusCode)
  t.strictSame(statuses, statuses.map(() => 200))
})

t.test('Kopo Kopo turning slow for good is refused for within a few slow answers, whatever came before', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_CONNECTIONS: '4', UPSTREAM_RETRIES: '0', CIRCUIT_FAILURE_THRESHOLD: '100000', RATE_LIMIT_MAX: '100000' })
  const many = idsOf('3', 136)
  for (const id of many) fake.links.set(id, upstreamLink(id))
  fake.always('status', { delayMs: 50 })
  for (const id of many.slice(120)) t.equal((await app.inject(`/payment-links/${id}`)).statusCode, 200)
  // Sixteen answers at 50 ms, then 1.5 s a call at 40 requests a second, ten
  // times what four connections carry: the first slow answers come 1.5 s in,
  // and a queue has stood since about 0.1 s.
  fake.always('status', { delayMs: 1500 })
  const time = timeline()
  const sent: Array<{ at: number, answer: Promise<{ headers: Record<string, unknown> }> }> = []
  for (const [i, id] of many.slice(0, 120).entries()) {
    await time.until(i * 25)
    sent.push({ at: time.elapsed(), answer: app.inject(`/payment-links/${id}`) })
  }
  const busy = []
  for (const { at, answer } of sent) if ((await answer).headers['cache-status'] === 'k2-bff; detail=busy') busy.push(at)
  t.ok(busy.length > 0 && busy[0]! < 2500, `the first refused came ${Math.round(busy[0] ?? Infinity)} ms in`)
})

t.test('the deadline is the only timer on an upstream call: undici\'s own are off', async t => {
  // undici makes a timer per request for these and keeps it listed for up to
  // a second after it is cleared; the deadline's abort already ends both waits
  // (see resilience.test.ts for the slow headers and trickling body).
  const seen: Dispatcher.DispatchOptions[] = []
  const agent = new Agent().compose(dispatch => (options, handler) => {
    seen.push(options)
    return dispatch(options, handler)
  })
  t.teardown(() => agent.close())
  const { app, fake } = await buildTestApp(t, {}, { dispatcher: agent })
  const id = 'dddddddd-0000-4000-8000-00000000000f'
  fake.links.set(id, upstreamLink(id))
  t.equal((await app.inject(`/payment-links/${id}`)).statusCode, 200)
  t.same(seen.map(o => [o.path.split('/')[1], o.headersTimeout, o.bodyTimeout, 'signal' in o && o.signal !== undefined]), [
    ['oauth', 0, 0, true],
    ['api', 0, 0, true]
  ])
})

/**
 * A Kopo Kopo on 127.0.0.1 that answers two calls (a token, then a 404), each
 * closing its connection, and then stops accepting connections: its process
 * listens with a backlog of 1 and blocks its event loop. Two connections fill
 * that queue; the kernel then drops every further SYN, so a new connection
 * hangs until someone gives up on it.
 */
async function stallingUpstream (t: Teardown): Promise<{ url: string, port: number, fill: () => Promise<string> }> {
  const child = spawn(process.execPath, ['-e', `
    let connections = 0
    const server = require('node:http').createServer((request, response) => {
      request.resume()
      const token = request.url === '/oauth/token'
      response.writeHead(token ? 200 : 404, { 'content-type': 'application/json', connection: 'close' })
      response.end(token ? '{"access_token":"not-a-real-token","token_type":"Bearer","expires_in":3600}' : '{}', () => {
        if (token) return
        process.stdout.write('stalled after ' + connections + ' connections\\n')
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
      })
    }).on('connection', () => { connections++ })
      .listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => process.stdout.write(server.address().port + '\\n'))
  `], { stdio: ['ignore', 'pipe', 'ignore'] })
  // SIGKILL: a process blocked in Atomics.wait never handles SIGTERM.
  t.teardown(() => child.kill('SIGKILL'))
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const port = Number((await lines.next()).value)
  /** Waits for the stall, fills the queue, and says how many connections were served. */
  const fill = async (): Promise<string> => {
    const stalled = String((await lines.next()).value)
    for (let i = 0; i < 2; i++) {
      const socket = connect({ host: '127.0.0.1', port })
      t.teardown(() => socket.destroy())
      await once(socket, 'connect')
    }
    return stalled
  }
  return { url: `http://127.0.0.1:${port}`, port, fill }
}

t.test('a connection Kopo Kopo never completes ends at the deadline', async t => {
  const upstream = await stallingUpstream(t)
  // The service's own pool would also give up at its connect timeout; this one
  // waits 10 s (undici's default), so only the deadline can end the wait.
  const agent = new Agent({ connect: { timeout: 10_000 } })
  t.teardown(() => agent.destroy())
  const { app } = await buildTestApp(t, { K2_BASE_URL: upstream.url, UPSTREAM_TIMEOUT_MS: '1000' }, { dispatcher: agent })
  // A token, and a 404 that closes the last connection: the next status call needs a new one.
  t.equal((await app.inject('/payment-links/dddddddd-0000-4000-8000-00000000000d')).statusCode, 404)
  // One connection each, closed after its answer: the pool holds no spare one to reuse.
  t.equal(await upstream.fill(), 'stalled after 2 connections')
  const probe = connect({ host: '127.0.0.1', port: upstream.port })
  t.teardown(() => probe.destroy())

  const started = performance.now()
  const res = await app.inject('/payment-links/dddddddd-0000-4000-8000-00000000000e')
  const waitedMs = Math.round(performance.now() - started)
  // Not a speed figure: without the deadline, this wait lasts the 10 s connect timeout.
  t.ok(waitedMs < 5000, `answered after ${waitedMs} ms`)
  // Still connecting after the service gave up: the wait was for the connection, not for an answer.
  t.equal(probe.connecting, true, 'the upstream does not complete connections')
  t.equal(res.statusCode, 504)
  t.same(res.json(), problem(res, 'upstream-timeout', 'Kopo Kopo did not answer in time', 504, 'Kopo Kopo did not answer within 1000 ms.'))
  t.equal(res.headers['cache-status'], 'k2-bff; fwd=miss; detail=timeout')
})
