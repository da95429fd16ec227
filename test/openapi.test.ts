import { readFile } from 'node:fs/promises'
import t from 'tap'
import { renderOpenApi } from '../scripts/openapi-document.js'
import { buildTestApp } from './helpers/app.js'

const committed = await readFile(new URL('../openapi/openapi.json', import.meta.url), 'utf8')

t.test('the committed openapi/openapi.json is what the code serves (run `npm run openapi` after a schema change)', async t => {
  t.equal(await renderOpenApi(), committed)
  const { app } = await buildTestApp(t)
  const res = await app.inject('/openapi.json')
  t.equal(res.statusCode, 200)
  t.same(res.json(), JSON.parse(committed))
  t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  t.equal(res.headers['cache-control'], 'no-cache', 'revalidated: it changes with a deploy')
  t.match(res.headers.etag, /^"[\w-]+"$/)
  const again = await app.inject({ url: '/openapi.json', headers: { 'if-none-match': String(res.headers.etag) } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
  t.equal(again.headers.etag, res.headers.etag)
})

t.test('the document describes the DTO, every error answer, headers and examples', async t => {
  const doc = JSON.parse(committed)
  t.equal(doc.openapi, '3.1.0')
  const op = doc.paths['/payment-links/{id}'].get
  t.equal(op.operationId, 'getPaymentLink')
  t.same(Object.keys(op.responses).sort(), ['200', '304', '400', '401', '404', '408', '412', '414', '429', '431', '502', '503', '504'])
  t.same(op.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/PaymentLink' })
  for (const status of ['400', '401', '404', '408', '412', '414', '429', '431', '502', '503', '504']) {
    t.same(op.responses[status].content['application/problem+json'].schema, { $ref: '#/components/schemas/Problem' }, status)
    t.ok(op.responses[status].headers['X-Request-Id'], `${status} documents X-Request-Id`)
  }
  t.ok(op.responses['200'].headers.ETag)
  t.ok(op.responses['429'].headers['Retry-After'])
  t.ok(op.responses['503'].headers['Retry-After'])
  t.ok(op.responses['401'].headers['WWW-Authenticate'])
  const dto = doc.components.schemas.PaymentLink
  t.same(dto.required, ['id', 'state', 'status', 'linkStatus', 'amount', 'currency', 'reference', 'note', 'tillName',
    'tillNumber', 'createdAt', 'expiresAt', 'url', 'error'])
  t.same(dto.properties.state.enum, ['pending', 'active', 'paid', 'expired', 'cancelled', 'failed', 'unknown'])
  t.equal(dto.examples.length, 1)
  t.equal(doc.components.schemas.Problem.examples.length, 1)
  t.notOk(doc.components.securitySchemes, 'no auth scheme while the service is open')
  t.notOk(doc.paths['/openapi.json'], 'the document does not list itself')
})

t.test('with API keys configured the document declares the schemes', async t => {
  const { app } = await buildTestApp(t, { API_KEYS: 'key-for-openapi-test-0001' })
  const doc = (await app.inject('/openapi.json')).json()
  t.same(Object.keys(doc.components.securitySchemes), ['bearerAuth', 'apiKeyHeader'])
  t.same(doc.paths['/payment-links/{id}'].get.security, [{ bearerAuth: [] }, { apiKeyHeader: [] }])
  t.notOk(doc.paths['/health/live'].get.security, 'probes stay open')
})

t.test('GET /docs serves Swagger UI', async t => {
  const { app } = await buildTestApp(t)
  const res = await app.inject('/docs')
  const page = res.statusCode === 302 ? await app.inject(String(res.headers.location).replace(/^\.\//, '/docs/')) : res
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, 'swagger')
})

t.test('the docs pages carry their own CSP, without upgrade-insecure-requests', async t => {
  const { app } = await buildTestApp(t)
  const res = await app.inject('/docs/static/index.html')
  const csp = String(res.headers['content-security-policy'])
  t.match(csp, /^default-src 'self'/)
  t.match(csp, "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='")
  t.notMatch(csp, 'unsafe-inline')
  t.notMatch(csp, 'upgrade-insecure-requests')
})
