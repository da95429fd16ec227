import { once } from 'node:events'
import { connect } from 'node:net'
import t from 'tap'
import { CLIENT_IDLE_MARGIN_MS } from '../../src/app.js'
import { MAX_TIMER_MS } from '../../src/config.js'
import { buildTestApp } from '../helpers/app.js'

// Node's own socket timer, on the real clock: with UPSTREAM_TIMEOUT_MS=1 the
// limit is CLIENT_IDLE_MARGIN_MS and a millisecond. The tap timeout only
// bounds how long a failure takes to show.
t.test('a connection that goes quiet mid-request is closed after the wait on Kopo Kopo plus a margin', { timeout: 4 * CLIENT_IDLE_MARGIN_MS }, async t => {
  const { app } = await buildTestApp(t, { UPSTREAM_TIMEOUT_MS: '1' })
  t.equal(app.server.timeout, 1 + CLIENT_IDLE_MARGIN_MS)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port

  const silent = connect(port, '127.0.0.1')
  const partial = connect(port, '127.0.0.1')
  partial.write('GET /payment-links/')
  const started = performance.now()
  await Promise.all([once(silent, 'close'), once(partial, 'close')])
  const waited = performance.now() - started
  // A timer never fires early: closed by the service's timer, not at once.
  t.ok(waited >= CLIENT_IDLE_MARGIN_MS - 100, `closed after ${Math.round(waited)} ms`)
})

t.test('the idle limit stays a timer Node can keep, whatever UPSTREAM_TIMEOUT_MS', async t => {
  // Past 2^31 - 1 ms, Node fires a timer after 1 ms: every connection would be cut at once.
  const { app } = await buildTestApp(t, { UPSTREAM_TIMEOUT_MS: String(MAX_TIMER_MS) })
  t.equal(app.server.timeout, MAX_TIMER_MS)
})
