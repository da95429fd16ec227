import { readFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import t, { type Test } from 'tap'
import { ACTIVE_ID, buildTestApp, PAID_ID } from './helpers/app.js'
import { gate, upstreamLink } from './helpers/fake-kopokopo.js'

// The committed OpenAPI document is a contract: every answer the service
// gives on a documented path is checked against it, as a generated client
// would rely on it. (openapi.test.ts checks the document is what the code
// serves; this checks the code does what the document says.)

interface OpenApiHeader { description: string }
interface OpenApiResponse { headers?: Record<string, OpenApiHeader>, content?: Record<string, { schema: object }> }
interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, OpenApiResponse> }>>
  components: { schemas: Record<string, { description?: string, properties?: Record<string, { description?: string }> }> }
}
const doc = JSON.parse(await readFile(new URL('../openapi/openapi.json', import.meta.url), 'utf8')) as OpenApiDocument

// ajv-formats is CommonJS: its function is also its own `default`.
const addFormats = addFormatsModule.default
const ajv = new Ajv2020({ strict: false })
addFormats(ajv)
for (const [name, schema] of Object.entries(doc.components.schemas)) {
  ajv.addSchema({ ...schema, $id: undefined }, `#/components/schemas/${name}`)
}

// The headers a client acts on; each one an answer carries must be declared
// for its status. (CORS's own headers are the browser's business.)
const RELIED_ON = ['x-request-id', 'cache-status', 'etag', 'cache-control', 'retry-after', 'www-authenticate', 'vary',
  'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']
const PROBLEM_TYPE = /^urn:k2-bff:problem:([a-z0-9-]+)$/
const documentedTypes = doc.components.schemas.Problem?.properties?.type?.description ?? ''

interface Answer { statusCode: number, headers: Record<string, unknown>, body: string }

/** Checks one answer of `method path` against the document; returns the status it had. */
function conforms (t: Test, method: string, path: string, answer: Answer): number {
  const label = `${method} ${path.slice(0, 60)} → ${answer.statusCode}`
  const template = Object.keys(doc.paths).find(p => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/?]+')}(\\?|$)`).test(path))
  // HEAD is answered for every GET, as HTTP requires; the document lists the GET.
  const operation = template === undefined ? undefined : doc.paths[template]?.[method === 'HEAD' ? 'get' : method.toLowerCase()]
  if (operation === undefined) {
    t.fail(`${label}: no such operation in the document`)
    return answer.statusCode
  }
  const response = operation.responses[String(answer.statusCode)]
  if (response === undefined) {
    t.fail(`${label}: status not declared`)
    return answer.statusCode
  }
  t.pass(`${label}: declared`)

  const declared = Object.keys(response.headers ?? {}).map(name => name.toLowerCase())
  const undeclared = RELIED_ON.filter(name => answer.headers[name] !== undefined && !declared.includes(name))
  t.same(undeclared, [], `${label}: every header a client acts on is declared`)

  const mediaType = String(answer.headers['content-type'] ?? '').split(';')[0]!
  if (method === 'HEAD' || answer.statusCode === 304) {
    t.equal(answer.body, '', `${label}: no body`)
    return answer.statusCode
  }
  const media = response.content?.[mediaType]
  if (media === undefined) {
    t.fail(`${label}: ${mediaType} not declared`)
    return answer.statusCode
  }
  const body = JSON.parse(answer.body) as { type?: string }
  const valid = ajv.validate(media.schema, body)
  t.ok(valid, `${label}: body valid`, { errors: ajv.errors })
  if (mediaType === 'application/problem+json') {
    const name = PROBLEM_TYPE.exec(body.type ?? '')?.[1] ?? ''
    t.ok(documentedTypes.includes(`\`${name}\``) || /^http-\d{3}$/.test(name), `${label}: problem type ${name} is documented`)
  }
  return answer.statusCode
}

async function inject (t: Test, app: Awaited<ReturnType<typeof buildTestApp>>['app'],
  options: { method?: 'GET' | 'HEAD', url: string, headers?: Record<string, string>, payload?: string }): Promise<Answer> {
  const res = await app.inject(options)
  conforms(t, options.method ?? 'GET', options.url, { statusCode: res.statusCode, headers: res.headers, body: res.body })
  return res
}

const ids = Array.from({ length: 8 }, (_, i) => `cccccccc-0000-4000-8000-${String(i).padStart(12, '0')}`)

t.test('every payment-link answer is described by the document', async t => {
  const { app, fake, clock } = await buildTestApp(t, {
    // The deadline runs on the real clock: long enough that a loaded machine
    // still answers the first lookup (its token call included) within it.
    CORS_ORIGINS: 'https://shop.example', UPSTREAM_TIMEOUT_MS: '2000', CIRCUIT_FAILURE_THRESHOLD: '100', RATE_LIMIT_MAX: '30'
  })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  fake.links.set(PAID_ID, upstreamLink(PAID_ID, { paymentLink: { payment_link_status: 'Paid' } }))
  const url = `/payment-links/${ACTIVE_ID}`
  const statuses: number[] = []
  const check = async (options: Parameters<typeof inject>[2]) => { statuses.push((await inject(t, app, options)).statusCode) }

  const first = await inject(t, app, { url, headers: { origin: 'https://shop.example' } })
  t.equal(first.statusCode, 200, 'the first lookup, whose ETag the next ones send')
  await check({ url })
  await check({ url, headers: { 'if-none-match': String(first.headers.etag) } })
  await check({ url, headers: { 'if-match': '"other"' } })
  await check({ method: 'HEAD', url: `/payment-links/${PAID_ID}` })
  await check({ url: '/payment-links/not-a-uuid' })
  await check({ url, headers: { 'content-type': 'text/plain' }, payload: 'a body' })
  await check({ url: `/payment-links/${'a'.repeat(3000)}` })
  await check({ url: '/payment-links/00000000-0000-4000-8000-000000000000' })
  fake.enqueue('status', { status: 500 }, { status: 500 }, { status: 500 })
  await check({ url: `/payment-links/${ids[0]}` })
  fake.enqueue('status', { status: 200, body: 'not json' })
  await check({ url: `/payment-links/${ids[1]}` })
  fake.enqueue('status', { reset: true }, { reset: true }, { reset: true })
  await check({ url: `/payment-links/${ids[2]}` })
  // Held past the deadline (on the real clock: 2 s), then released.
  const held = gate()
  t.teardown(held.open)
  fake.enqueue('status', { until: held.promise })
  await check({ url: `/payment-links/${ids[4]}` })
  // Stale-if-error: the cached answer, past its TTL, while Kopo Kopo fails.
  clock.advance(4_000)
  fake.enqueue('status', { status: 500 }, { status: 500 }, { status: 500 })
  await check({ url })
  // Last among Kopo Kopo's answers: its Retry-After holds back every call after it.
  fake.enqueue('status', { status: 429, headers: { 'retry-after': '3600' } })
  await check({ url: `/payment-links/${ids[3]}` })
  for (let spent = 0; spent < 30 && (await app.inject('/payment-links/not-a-uuid')).statusCode !== 429; spent++);
  await check({ url })
  t.same(statuses, [200, 304, 412, 200, 400, 400, 414, 404, 502, 502, 502, 504, 200, 503, 429], 'each status was reached')
})

t.test('the circuit\'s 503, the API key\'s 401, and the HTTP parser\'s 431', async t => {
  const circuit = await buildTestApp(t, { CIRCUIT_FAILURE_THRESHOLD: '1', UPSTREAM_RETRIES: '0' })
  circuit.fake.enqueue('status', { status: 500 })
  await inject(t, circuit.app, { url: `/payment-links/${ids[5]}` })
  t.equal((await inject(t, circuit.app, { url: `/payment-links/${ids[6]}` })).statusCode, 503)

  const keyed = await buildTestApp(t, { API_KEYS: 'contract-test-key-0001', CORS_ORIGINS: 'https://shop.example' })
  keyed.fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  t.equal((await inject(t, keyed.app, { url: `/payment-links/${ACTIVE_ID}` })).statusCode, 401)
  const granted = await inject(t, keyed.app, { url: `/payment-links/${ACTIVE_ID}`, headers: { 'x-api-key': 'contract-test-key-0001', origin: 'https://shop.example' } })
  t.equal(granted.headers.vary, 'Authorization, X-API-Key, Origin')

  await keyed.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (keyed.app.server.address() as { port: number }).port
  t.equal(conforms(t, 'GET', `/payment-links/${ACTIVE_ID}`, await rawAnswer(port, `Host: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n`)), 431)
  t.equal(conforms(t, 'GET', `/payment-links/${ACTIVE_ID}`, await rawAnswer(port, '')), 400, 'no Host')
  t.equal(conforms(t, 'GET', `/payment-links/${ACTIVE_ID}`, await rawAnswer(port, 'Host: x\r\nHost: y\r\n')), 400, 'Host twice')
})

/** A GET written on a socket of its own, for what an injected request cannot be. */
async function rawAnswer (port: number, headerLines: string): Promise<Answer> {
  const socket = connect(port, '127.0.0.1')
  socket.end(`GET /payment-links/${ACTIVE_ID} HTTP/1.1\r\n${headerLines}\r\n`)
  let text = ''
  for await (const chunk of socket) text += String(chunk)
  const [head = '', body = ''] = text.split('\r\n\r\n')
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers = Object.fromEntries(lines.map(line => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
  return { statusCode: Number(statusLine.split(' ')[1]), headers, body }
}

t.test('health answers are described by the document', async t => {
  // With API keys and CORS on, as their Vary is then sent on every answer.
  const { app, fake } = await buildTestApp(t, { API_KEYS: 'a-long-enough-key-0001', CORS_ORIGINS: 'https://shop.example' })
  const origin = { origin: 'https://shop.example' }
  t.equal((await inject(t, app, { url: '/health/live', headers: origin })).statusCode, 200)
  t.equal((await inject(t, app, { url: '/health/ready', headers: origin })).statusCode, 200)
  const failing = await buildTestApp(t)
  failing.fake.always('token', { status: 500 })
  t.equal((await inject(t, failing.app, { url: '/health/ready' })).statusCode, 503)
  app.startDraining()
  t.equal((await inject(t, app, { url: '/health/ready', headers: origin })).statusCode, 503)
  t.equal(fake.calls('status').length, 0)
})
