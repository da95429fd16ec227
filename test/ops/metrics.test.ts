import { readFile } from 'node:fs/promises'
import t from 'tap'
import { request } from 'undici'
import { buildMetricsServer } from '../../src/metrics/server.js'
import { ACTIVE_ID, buildTestApp, sample } from '../helpers/app.js'
import { gate, upstreamLink } from '../helpers/fake-kopokopo.js'

t.test('Prometheus metrics after a few requests, on their own listener', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_RETRIES: '1', CIRCUIT_FAILURE_THRESHOLD: '100' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.enqueue('status', { status: 503 })
  await app.inject(`/payment-links/${ACTIVE_ID}`)
  await Promise.all([app.inject(`/payment-links/${ACTIVE_ID}`), app.inject(`/payment-links/${ACTIVE_ID}`)])
  await app.inject('/payment-links/not-a-uuid')
  await app.inject('/nowhere/at/all')

  const metricsServer = buildMetricsServer(app.metrics.registry)
  t.teardown(() => metricsServer.close())
  const address = await metricsServer.listen({ host: '127.0.0.1', port: 0 })
  const res = await request(`${address}/metrics`)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const text = await res.body.text()

  const route = 'route="/payment-links/:id"'
  t.equal(sample(text, `k2bff_http_requests_total{${route},method="GET",status="200"}`), 3)
  t.equal(sample(text, `k2bff_http_requests_total{${route},method="GET",status="400"}`), 1)
  t.equal(sample(text, 'k2bff_http_requests_total{route="unmatched",method="GET",status="404"}'), 1)
  t.equal(sample(text, `k2bff_http_request_duration_seconds_count{${route},method="GET",status="200"}`), 3)
  const answerBounds = [...text.matchAll(new RegExp(`^k2bff_http_request_duration_seconds_bucket\\{le="([^"]+)",${route},method="GET",status="200"\\}`, 'gm'))].map(m => m[1])
  t.strictSame(answerBounds, ['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '+Inf'],
    'as far as an upstream attempt\'s, for an UPSTREAM_TIMEOUT_MS set longer')
  t.equal(sample(text, 'k2bff_cache_events_total{result="miss"}'), 1)
  t.equal(sample(text, 'k2bff_cache_events_total{result="hit"}'), 2)
  t.equal(sample(text, 'k2bff_upstream_requests_total{call="token",outcome="ok"}'), 1)
  t.equal(sample(text, 'k2bff_upstream_requests_total{call="status",outcome="server_error"}'), 1)
  t.equal(sample(text, 'k2bff_upstream_requests_total{call="status",outcome="ok"}'), 1)
  t.equal(sample(text, 'k2bff_upstream_request_duration_seconds_count{call="status",outcome="ok"}'), 1)
  const bounds = [...text.matchAll(/^k2bff_upstream_request_duration_seconds_bucket\{le="([^"]+)",call="status",outcome="ok"\}/gm)].map(m => m[1])
  t.strictSame(bounds, ['0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '+Inf'],
    'buckets reach past the default deadline, for an UPSTREAM_TIMEOUT_MS set longer')
  t.equal(sample(text, 'k2bff_token_fetches_total'), 1)
  t.equal(sample(text, 'k2bff_circuit_state'), 0)
  t.equal(sample(text, 'k2bff_rate_limited_total'), 0)
  t.equal(sample(text, 'k2bff_upstream_busy_total'), 0, 'exists from start-up')
  t.match(text, /process_cpu_user_seconds_total \d/)
  t.match(text, /nodejs_eventloop_lag_seconds \d/)

  const publicPort = await app.inject('/metrics')
  t.equal(publicPort.statusCode, 404, 'not on the public port')
})

t.test('the circuit state gauge follows the breaker', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_RETRIES: '0', CIRCUIT_FAILURE_THRESHOLD: '1' })
  fake.always('token', { status: 500 })
  await app.inject(`/payment-links/${ACTIVE_ID}`)
  t.match(await app.metrics.registry.getSingleMetricAsString('k2bff_circuit_state'), 'k2bff_circuit_state 2')
  t.match(await app.metrics.registry.getSingleMetricAsString('k2bff_upstream_requests_total'),
    'k2bff_upstream_requests_total{call="token",outcome="server_error"} 1')
})

t.test('the cache gauges report occupancy against the bounds, and evictions are counted', async t => {
  const { app, fake } = await buildTestApp(t, { CACHE_MAX_ENTRIES: '2' })
  const ids = ['aaaaaaaa-0000-4000-8000-00000000000a', 'aaaaaaaa-0000-4000-8000-00000000000b', 'aaaaaaaa-0000-4000-8000-00000000000c']
  const answers = []
  for (const id of ids) {
    fake.links.set(id, upstreamLink(id))
    answers.push(await app.inject(`/payment-links/${id}`))
  }
  const scrape = async (name: string) => await app.metrics.registry.getSingleMetricAsString(name)
  t.equal(await scrape('k2bff_cache_entries'), '# HELP k2bff_cache_entries Answers held in the payment link cache (404s included), ' +
    'bounded by CACHE_MAX_ENTRIES.\n# TYPE k2bff_cache_entries gauge\nk2bff_cache_entries 2')
  t.match(await scrape('k2bff_cache_evictions_total'), /\nk2bff_cache_evictions_total 1$/)
  // The two answers still held: their bytes, their ETag and 200 bytes of bookkeeping each.
  const held = answers.slice(1).reduce((sum, res) => sum + 200 + res.rawPayload.length + String(res.headers.etag).length, 0)
  t.match(await scrape('k2bff_cache_size_bytes'), new RegExp(`\\nk2bff_cache_size_bytes ${held}$`))

  await app.inject(`/payment-links/${ids[2]}`)
  t.match(await scrape('k2bff_cache_evictions_total'), /\nk2bff_cache_evictions_total 1$/, 'a hit evicts nothing')
})

t.test('one cache result per lookup: a stale answer counts as stale, not also as a miss', async t => {
  const { app, fake, clock } = await buildTestApp(t, { UPSTREAM_RETRIES: '0' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await app.inject(`/payment-links/${ACTIVE_ID}`)
  clock.advance(4000)
  const failure = gate()
  fake.enqueue('status', { status: 503, until: failure.promise })
  const lookups = [0, 1, 2].map(async () => await app.inject(`/payment-links/${ACTIVE_ID}`))
  await fake.received('status', 2)
  failure.open()
  t.same((await Promise.all(lookups)).map(res => res.headers['cache-status']), Array(3).fill('k2-bff; fwd=stale; ttl=-1; fwd-status=503'))
  const text = await app.metrics.registry.getSingleMetricAsString('k2bff_cache_events_total')
  t.same(text.split('\n').filter(l => l.startsWith('k2bff_')).sort(), [
    'k2bff_cache_events_total{result="collapsed"} 0',
    'k2bff_cache_events_total{result="hit"} 0',
    'k2bff_cache_events_total{result="miss"} 1',
    'k2bff_cache_events_total{result="stale"} 3'
  ])
})

t.test('requests that join another\'s call count as collapsed, the one that made it as a miss', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await fake.holdUntilReceived('status', 1, () => Array.from({ length: 5 }, async () => await app.inject(`/payment-links/${ACTIVE_ID}`)))
  const text = await app.metrics.registry.getSingleMetricAsString('k2bff_cache_events_total')
  t.equal(sample(text, 'k2bff_cache_events_total{result="miss"}'), 1)
  t.equal(sample(text, 'k2bff_cache_events_total{result="collapsed"}'), 4)
})

t.test('collapsed counts what Cache-Status says collapsed: requests held back by the circuit joined no call', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_RETRIES: '0', CIRCUIT_FAILURE_THRESHOLD: '1' })
  fake.always('status', { status: 500 })
  await app.inject(`/payment-links/${ACTIVE_ID}`) // opens the circuit
  const answers = await Promise.all([1, 2].map(async () => await app.inject(`/payment-links/${ACTIVE_ID}`)))
  t.same(answers.map(a => a.headers['cache-status']), ['k2-bff; detail=circuit-open', 'k2-bff; detail=circuit-open'])
  const text = await app.metrics.registry.getSingleMetricAsString('k2bff_cache_events_total')
  t.equal(sample(text, 'k2bff_cache_events_total{result="collapsed"}'), 0)
  t.equal(sample(text, 'k2bff_cache_events_total{result="miss"}'), 3)
})

t.test('every cache result and upstream call/outcome series exists from start-up, at 0', async t => {
  const { app } = await buildTestApp(t)
  const series = async (name: string) => (await app.metrics.registry.getSingleMetricAsString(name)).split('\n').filter(l => l.startsWith(name))
  t.same((await series('k2bff_cache_events_total')).sort(), ['collapsed', 'hit', 'miss', 'stale'].map(r => `k2bff_cache_events_total{result="${r}"} 0`))
  const outcomes = ['ok', 'not_found', 'unauthorized', 'client_error', 'server_error', 'rate_limited', 'timeout', 'network_error', 'too_large']
  t.same((await series('k2bff_upstream_requests_total')).sort(),
    ['token', 'status'].flatMap(call => outcomes.map(outcome => `k2bff_upstream_requests_total{call="${call}",outcome="${outcome}"} 0`)).sort())
})

t.test('k2bff_build_info: 1, with the service and Node.js versions as labels', async t => {
  const { app } = await buildTestApp(t)
  const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  t.equal(await app.metrics.registry.getSingleMetricAsString('k2bff_build_info'),
    '# HELP k2bff_build_info Always 1: the service version and Node.js version running, in its labels.\n' +
    `# TYPE k2bff_build_info gauge\nk2bff_build_info{version="${version}",node_version="${process.version}"} 1`)
})

t.test('token fetches count only those that reached Kopo Kopo', async t => {
  const { app, fake } = await buildTestApp(t, { UPSTREAM_RETRIES: '0', CIRCUIT_FAILURE_THRESHOLD: '1' })
  fake.always('token', { status: 500 })
  for (let i = 0; i < 4; i++) await app.inject(`/payment-links/${ACTIVE_ID}`)
  await app.inject('/health/ready')
  t.equal(fake.calls('token').length, 1)
  t.match(await app.metrics.registry.getSingleMetricAsString('k2bff_token_fetches_total'), /\nk2bff_token_fetches_total 1$/)
})

t.test('the README\'s metrics table is exact: every k2bff_ metric, its type and labels, and no other', async t => {
  const { app, fake } = await buildTestApp(t)
  // A lookup, so that the per-request series exist and show their labels.
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  t.equal((await app.inject(`/payment-links/${ACTIVE_ID}`)).statusCode, 200)
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('### Metrics'), readme.indexOf('### Shutdown'))
  const documented = section.split('\n').filter(l => l.startsWith('| `k2bff_')).map(row => {
    const [name = '', type = '', labels = ''] = row.split('|').slice(1).map(cell => cell.trim())
    return { name: name.replaceAll('`', ''), type, labels: labels === '' ? [] : labels.split(',').map(l => l.trim()) }
  })
  const actual = (await app.metrics.registry.getMetricsAsJSON()).filter(m => m.name.startsWith('k2bff_')).map(m => ({
    name: m.name,
    type: String(m.type),
    labels: [...new Set(m.values.flatMap(v => Object.keys(v.labels)).filter(l => l !== 'le'))]
  }))
  t.equal(actual.length, 14, 'every k2bff_ metric is checked')
  const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name)
  t.same(documented.sort(byName), actual.sort(byName))
})

t.test('metric names follow Prometheus conventions', async t => {
  const { app } = await buildTestApp(t)
  for (const { name, type } of (await app.metrics.registry.getMetricsAsJSON()).filter(m => m.name.startsWith('k2bff_'))) {
    t.match(name, /^k2bff_[a-z]+(_[a-z]+)*$/, `${name}: snake case, one prefix`)
    t.equal(name.endsWith('_total'), String(type) === 'counter', `${name}: _total if and only if a counter`)
    if (name.endsWith('_info')) t.equal(String(type), 'gauge', `${name}: an info metric is a gauge`)
    if (String(type) === 'histogram') t.match(name, /_(seconds|bytes)$/, `${name}: a histogram names its base unit`)
  }
})
