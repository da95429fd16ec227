import { connect } from 'node:net'
import t from 'tap'
import { targetPath } from '../../src/request-target.js'
import { ACTIVE_ID, buildTestApp, problem, sample } from '../helpers/app.js'
import { gate, upstreamLink } from '../helpers/fake-kopokopo.js'

/** Sends raw bytes and returns everything the server wrote before closing. */
async function raw (port: number, request: string): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  socket.end(request)
  let answer = ''
  for await (const chunk of socket) answer += String(chunk)
  return answer
}

const problemOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))

t.test('odd ids and paths get clean 4xx problems and never reach upstream', async t => {
  const { app, fake, logs } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const cases: Array<[string, number]> = [
    ['/payment-links/../oauth/token', 404],
    ['/payment-links/..%2F..%2Foauth%2Ftoken', 400],
    [`/payment-links/${ACTIVE_ID}%2F..`, 400],
    [`/payment-links/${ACTIVE_ID}/cancel`, 404],
    [`/payment-links/${'a'.repeat(10_000)}`, 414],
    [`/payment-links/${'a'.repeat(500)}`, 400],
    ['/payment-links/%E2%80%AE%F0%9F%92%B8', 400],
    [`/payment-links/${ACTIVE_ID}%00`, 400],
    ['/payment-links/%ZZ', 400],
    [`/payment-links/%ZZ${'a'.repeat(3000)}`, 414],
    ['/payment-links/', 400],
    [`/payment-links/${ACTIVE_ID}?id=../../oauth`, 200]
  ]
  for (const [url, status] of cases) {
    const res = await app.inject(url)
    t.equal(res.statusCode, status, url.slice(0, 60))
    if (status !== 200) {
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      t.equal(res.json().status, status)
    }
  }
  t.same(fake.calls('status').map(r => r.path), [`/api/v2/payment_links/${ACTIVE_ID}`], 'only the valid request went upstream')
  t.notMatch(logs.text, /"stack"/, 'no stack traces logged for bad input')
})

t.test('wrong methods are 405 with Allow; bodies are refused', async t => {
  const { app, fake } = await buildTestApp(t)
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const) {
    const res = await app.inject({ method, url: `/payment-links/${ACTIVE_ID}` })
    t.equal(res.statusCode, 405, method)
    t.equal(res.headers.allow, 'GET, HEAD')
    t.equal(res.json().type, 'urn:k2-bff:problem:method-not-allowed')
  }
  const bodies = [
    { headers: { 'content-type': 'application/json' }, payload: '{"a":1}' },
    { headers: { 'content-type': 'text/plain' }, payload: 'x'.repeat(100_000) },
    { headers: { 'transfer-encoding': 'chunked' }, payload: 'x' }
  ]
  for (const { headers, payload } of bodies) {
    const res = await app.inject({ method: 'GET', url: `/payment-links/${ACTIVE_ID}`, headers, payload })
    t.equal(res.statusCode, 400)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.equal(res.json().type, 'urn:k2-bff:problem:body-not-allowed')
    t.equal(res.headers.connection, 'close')
  }
  t.equal(fake.requests.length, 0)
})

t.test('another method that names a media type but sends no body is a 405 too, and counts against the rate limit', async t => {
  // As a page's fetch() with a JSON content type and no body sends it; Fastify's
  // JSON parser would refuse the empty body with a 400 of its own, before the
  // router's 405 and the rate limit's count.
  const { app } = await buildTestApp(t, { RATE_LIMIT_MAX: '5' })
  const answers = []
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const) {
    const res = await app.inject({ method, url: `/payment-links/${ACTIVE_ID}`, headers: { 'content-type': 'application/json', 'content-length': '0' } })
    t.equal(res.statusCode, 405, method)
    t.equal(res.headers.allow, 'GET, HEAD', `${method}: Allow`)
    answers.push(res.headers['x-ratelimit-remaining'])
  }
  t.same(answers, ['4', '3', '2', '1', '0'])
  const over = await app.inject({ method: 'POST', url: '/nope', headers: { 'content-type': 'application/json' } })
  t.equal(over.statusCode, 429, 'the budget is spent')
})

t.test('a Content-Type Fastify cannot read, or QUERY without one, still gets the 405 or 404 and counts', async t => {
  // A request no route takes has no body to parse: Fastify would answer these
  // with a 415 or a 400 of its own, uncounted, before the router's 405.
  const { app } = await buildTestApp(t, { RATE_LIMIT_MAX: '5' })
  const cases = [
    { method: 'POST', url: `/payment-links/${ACTIVE_ID}`, headers: { 'content-type': 'foo' }, status: 405 },
    { method: 'DELETE', url: `/payment-links/${ACTIVE_ID}`, headers: { 'content-type': '' }, status: 405 },
    { method: 'QUERY', url: `/payment-links/${ACTIVE_ID}`, headers: {}, status: 405 },
    { method: 'QUERY', url: '/nope', headers: {}, status: 404 },
    { method: 'PUT', url: '/nope', headers: { 'content-type': 'a b' }, status: 404 }
  ] as const
  const remaining = []
  for (const { method, url, headers, status } of cases) {
    const res = await app.inject({ method, url, headers })
    t.equal(res.statusCode, status, `${method} ${url} ${JSON.stringify(headers)}`)
    t.equal(res.headers.allow, status === 405 ? 'GET, HEAD' : undefined)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    remaining.push(res.headers['x-ratelimit-remaining'])
  }
  t.same(remaining, ['4', '3', '2', '1', '0'])
})

t.test('another method on a path exempt from the rate limit is not counted either', async t => {
  const { app } = await buildTestApp(t, { RATE_LIMIT_MAX: '1' })
  for (const url of ['/health/live', '/health/ready', '/openapi.json', '/docs', '/health/nope', '/docs/static/nope.js']) {
    for (const method of ['POST', 'DELETE', 'OPTIONS'] as const) {
      const res = await app.inject({ method, url })
      t.equal(res.statusCode, url === '/health/nope' ? 404 : 405, `${method} ${url}`)
      t.equal(res.headers['x-ratelimit-remaining'], undefined, `${method} ${url}: not counted`)
    }
  }
  const link = await app.inject({ method: 'POST', url: `/payment-links/${ACTIVE_ID}` })
  t.equal(link.headers['x-ratelimit-remaining'], '0', 'the whole budget was still there')
})

t.test('any path the service serves answers another method with 405 and Allow; any other path is a 404', async t => {
  const { app, fake } = await buildTestApp(t, { CORS_ORIGINS: 'https://shop.example' })
  // The API document's viewer serves its document and assets under /docs too.
  const served = ['/health/live', '/health/ready', '/openapi.json', '/docs', '/docs/', '/docs/json', '/docs/yaml', `/payment-links/${ACTIVE_ID}`, '/payment-links/not-an-id', '/payment-links/']
  for (const url of served) {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      const res = await app.inject({ method, url, headers: { origin: 'https://shop.example' } })
      t.equal(res.statusCode, 405, `${method} ${url}`)
      t.equal(res.headers.allow, 'GET, HEAD', `${method} ${url}: Allow`)
    }
  }
  for (const url of ['/nope', '/payment-links', `/payment-links/${ACTIVE_ID}/cancel`, '/health', '/openapi.yaml']) {
    const res = await app.inject({ method: 'POST', url })
    t.equal(res.statusCode, 404, `POST ${url}`)
    t.equal(res.headers.allow, undefined, `POST ${url}: no Allow`)
  }
  // The viewer's assets are one route for any file name: one it does not have is not there, for GET and HEAD alike.
  for (const method of ['GET', 'HEAD'] as const) {
    const res = await app.inject({ method, url: '/docs/static/nope.js' })
    t.equal(res.statusCode, 404, `${method} of an asset the viewer does not have`)
  }
  t.equal((await app.inject({ method: 'POST', url: '/docs/static/nope.js' })).statusCode, 405, 'another method on its route')
  t.equal(fake.requests.length, 0)
})

// Without the fix this waits forever on a connection the service keeps
// open: the timeout only bounds how long such a failure takes to show.
t.test('a refused body ends its connection: a body trickling in cannot hold it open', { timeout: 15_000 }, async t => {
  const { app, fake } = await buildTestApp(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  for (const framing of ['Content-Length: 1000000', 'Transfer-Encoding: chunked']) {
    const socket = connect(port, '127.0.0.1')
    // The head and a first scrap of the body; the client never finishes it.
    socket.write(`GET /payment-links/${ACTIVE_ID} HTTP/1.1\r\nHost: x\r\n${framing}\r\n\r\n${framing.startsWith('Transfer') ? '3\r\nabc\r\n' : 'abc'}`)
    let answer = ''
    // Ends only when the service closes the connection.
    for await (const chunk of socket) answer += String(chunk)
    t.match(answer, /^HTTP\/1\.1 400 /, framing)
    t.match(answer, /\r\nconnection: close\r\n/i)
    t.equal(problemOf(answer).type, 'urn:k2-bff:problem:body-not-allowed')
  }
  t.equal(fake.requests.length, 0)
})

t.test('a body on a request answered before the refusal (a preflight, a malformed URL) ends its connection too', { timeout: 15_000 }, async t => {
  const { app, fake } = await buildTestApp(t, { CORS_ORIGINS: 'https://shop.example' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  const cases: Array<[string, number]> = [
    [`OPTIONS /payment-links/${ACTIVE_ID} HTTP/1.1\r\nOrigin: https://shop.example\r\nAccess-Control-Request-Method: GET\r\n`, 204],
    [`OPTIONS /payment-links/${ACTIVE_ID} HTTP/1.1\r\n`, 204],
    ['GET /payment-links/%ZZ HTTP/1.1\r\n', 400]
  ]
  for (const [head, status] of cases) {
    const socket = connect(port, '127.0.0.1')
    socket.write(`${head}Host: x\r\nContent-Length: 1000000\r\n\r\nabc`)
    let answer = ''
    // Ends only when the service closes the connection.
    for await (const chunk of socket) answer += String(chunk)
    t.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), head.slice(0, head.indexOf(' HTTP')))
    t.match(answer, /\r\nconnection: close\r\n/i)
  }
  t.equal(fake.requests.length, 0)
})

t.test('an absolute-form target is served by its path; its authority and userinfo reach no log or answer', async t => {
  const { app, fake, logs } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  // Cached first: raw() half-closes its connection, which a wait on Kopo Kopo would not outlast.
  t.equal((await app.inject(`/payment-links/${ACTIVE_ID}`)).statusCode, 200)
  const found = await raw(port, `GET http://merchant:hunter2-secret@bff.example/payment-links/${ACTIVE_ID}?key=also-secret HTTP/1.1\r\nHost: x\r\n\r\n`)
  t.match(found, /^HTTP\/1\.1 200 /)
  const missing = await raw(port, 'GET http://merchant:hunter2-secret@bff.example/nowhere HTTP/1.1\r\nHost: x\r\n\r\n')
  t.match(missing, /^HTTP\/1\.1 404 /)
  t.equal(problemOf(missing).detail, 'No route for GET /nowhere.')
  const bad = await raw(port, 'GET http://merchant:hunter2-secret@bff.example/payment-links/nope HTTP/1.1\r\nHost: x\r\n\r\n')
  t.match(bad, /\r\ncache-status: k2-bff; detail=rejected\r\n/i, 'a payment-link path, whatever the form')
  // The router cannot read these; Fastify's own message would quote them whole.
  const unreadable = await raw(port, 'GET http://merchant:hunter2-secret@bff.example/anything?key=also-secret#fragment HTTP/1.1\r\nHost: x\r\n\r\n')
  t.match(unreadable, /^HTTP\/1\.1 400 /)
  t.equal(problemOf(unreadable).detail, 'The request target is not a valid URL.')
  t.same(logs.lines.filter(l => l.msg === 'request').map(l => l.path),
    [`/payment-links/${ACTIVE_ID}`, `/payment-links/${ACTIVE_ID}`, '/nowhere', '/payment-links/nope', '/anything'])
  t.notMatch(logs.text, /hunter2|also-secret|bff\.example/)
  t.notMatch(found + missing + bad + unreadable, /hunter2|also-secret/)
})

t.test('targetPath keeps only the path', async t => {
  t.equal(targetPath('/payment-links/x?q=1'), '/payment-links/x')
  t.equal(targetPath('https://u:p@host:8080/a/b?c'), '/a/b')
  t.equal(targetPath('http://host'), '/')
  t.equal(targetPath('http://u:p@host?key=/secret-token'), '/', 'a query before any path is no path')
  t.equal(targetPath('*'), '*')
})

t.test('CONNECT, which Node hands over as a tunnel, is answered, logged and counted as any other method', async t => {
  const { app, fake, logs } = await buildTestApp(t, { CORS_ORIGINS: 'https://shop.example' })
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  const cases: Array<[string, number]> = [[`/payment-links/${ACTIVE_ID}`, 405], ['/nowhere', 404], ['example.com:443', 400]]
  for (const [target, status] of cases) {
    const answer = await raw(port, `CONNECT ${target} HTTP/1.1\r\nHost: bff\r\nX-Request-Id: connect-${status}\r\n\r\n`)
    t.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), target)
    t.match(answer, /\r\nConnection: close\r\n/, `${target}: the connection ends with the answer`)
    t.equal(problemOf(answer).status, status)
    t.equal(logs.lines.filter(l => l.requestId === `connect-${status}` && l.msg === 'request').length, 1, `${target}: one log line`)
  }
  t.match(await raw(port, `CONNECT /payment-links/${ACTIVE_ID} HTTP/1.1\r\nHost: bff\r\n\r\n`), /\r\nallow: GET, HEAD\r\n/)
  const counted = await app.metrics.registry.getSingleMetricAsString('k2bff_http_requests_total')
  t.equal(sample(counted, 'k2bff_http_requests_total{route="unmatched",method="CONNECT",status="405"}'), 2)
  // Pipelined behind an answer still to come, it is dropped with its connection; the service goes on.
  const held = gate()
  fake.always('status', { until: held.promise })
  const pipelined = raw(port, 'GET /payment-links/bbbbbbbb-0000-4000-8000-000000000001 HTTP/1.1\r\nHost: bff\r\n\r\nCONNECT /nowhere HTTP/1.1\r\nHost: bff\r\n\r\n')
  await fake.received('status', 1)
  t.equal(await pipelined, '', 'the connection was closed without an answer, as before')
  held.open()
  fake.always('status', undefined)
  t.equal((await app.inject(`/payment-links/${ACTIVE_ID}`)).statusCode, 200, 'the service is still up')
})

t.test('below the router: huge headers, malformed requests', async t => {
  const { app, fake } = await buildTestApp(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port

  const huge = await raw(port, `GET /payment-links/${ACTIVE_ID} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`)
  t.match(huge, /^HTTP\/1\.1 431 /)
  t.match(huge, /Content-Type: application\/problem\+json/)
  t.match(huge, /\r\nCache-Control: no-store\r\n/, 'refused below the router, and not to be cached either')
  t.match(huge, /\r\nx-content-type-options: nosniff\r\n/, 'with the security headers of any answer')
  t.match(huge, /\r\ncontent-security-policy: default-src 'none';frame-ancestors 'none'\r\n/)
  t.match(problemOf(huge), { status: 431, title: 'Request header fields too large' })
  const date = /\r\nDate: (.+)\r\n/.exec(huge)?.[1] ?? ''
  t.ok(Math.abs(Date.parse(date) - Date.now()) < 60_000, `dated, as every answer (${date})`)

  const garbage = await raw(port, 'HELLO THERE\r\n\r\n')
  t.match(garbage, /^HTTP\/1\.1 400 /)
  t.match(problemOf(garbage), { status: 400, type: 'urn:k2-bff:problem:http-400' })

  // A method Node's parser does not know: not implemented, rather than unreadable.
  const unknownMethod = await raw(port, `FOO /payment-links/${ACTIVE_ID} HTTP/1.1\r\nHost: x\r\n\r\n`)
  t.match(unknownMethod, /^HTTP\/1\.1 501 /)
  t.match(problemOf(unknownMethod), { status: 501, type: 'urn:k2-bff:problem:http-501', detail: 'The request method is not one this service implements.' })
  const known = await raw(port, `PROPFIND /payment-links/${ACTIVE_ID} HTTP/1.1\r\nHost: x\r\n\r\n`)
  t.match(known, /^HTTP\/1\.1 405 /, 'a known method the service does not serve is a 405')

  const badHeader = await raw(port, 'GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n')
  t.match(badHeader, /^HTTP\/1\.1 400 /)
  t.equal(fake.requests.length, 0)
})

t.test('requests the HTTP parser refuses are counted, as route unmatched and method unknown', async t => {
  const { app } = await buildTestApp(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  t.match(await raw(port, `GET /payment-links/${ACTIVE_ID} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`), /^HTTP\/1\.1 431 /)
  t.match(await raw(port, 'HELLO THERE\r\n\r\n'), /^HTTP\/1\.1 400 /)
  t.match(await raw(port, 'GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n'), /^HTTP\/1\.1 400 /)
  t.match(await raw(port, `FOO /payment-links/${ACTIVE_ID} HTTP/1.1\r\nHost: x\r\n\r\n`), /^HTTP\/1\.1 501 /)

  const requests = await app.metrics.registry.getSingleMetricAsString('k2bff_http_requests_total')
  t.same(requests.split('\n').filter(l => l.startsWith('k2bff_')).sort(), [
    'k2bff_http_requests_total{route="unmatched",method="unknown",status="400"} 2',
    'k2bff_http_requests_total{route="unmatched",method="unknown",status="431"} 1',
    'k2bff_http_requests_total{route="unmatched",method="unknown",status="501"} 1'
  ])
  t.notMatch(await app.metrics.registry.getSingleMetricAsString('k2bff_http_request_duration_seconds'), 'method="unknown"',
    'not timed: no request was read')
})

t.test('an unexpected error is a bland 500, logged once with its stack', async t => {
  const { app, logs } = await buildTestApp(t)
  app.get('/boom', async () => { throw new Error('internal detail: db password is hunter2') })
  const res = await app.inject('/boom')
  t.equal(res.statusCode, 500)
  t.same(res.json(), problem(res, 'internal', 'Internal server error', 500, 'An unexpected error occurred; it has been logged.'))
  t.notMatch(res.body, 'hunter2')
  const logged = logs.lines.filter(l => l.msg === 'unexpected error')
  t.equal(logged.length, 1)
  t.match(logged[0], { level: 50, requestId: res.headers['x-request-id'], err: { message: /hunter2/, stack: /Error/ } })
})

t.test('HTTP/1.1 without Host, and expectations: problems, not Node\'s bare answers', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port

  const hostless = await raw(port, `GET /payment-links/${ACTIVE_ID} HTTP/1.1\r\n\r\n`)
  t.match(hostless, /^HTTP\/1\.1 400 /)
  t.match(hostless, /\r\ncontent-type: application\/problem\+json; charset=utf-8\r\n/)
  t.match(hostless, /\r\nx-request-id: [0-9a-f-]{36}\r\n/)
  t.match(problemOf(hostless), { type: 'urn:k2-bff:problem:missing-host', status: 400, detail: 'An HTTP/1.1 request must name its host in a Host header.' })
  t.equal(fake.requests.length, 0, 'refused before any upstream work')
  // Cached first: raw() half-closes its connection, which a wait on Kopo Kopo would not outlast.
  t.equal((await app.inject(`/payment-links/${ACTIVE_ID}`)).statusCode, 200)
  // HTTP/1.0 has no Host requirement.
  t.match(await raw(port, `GET /payment-links/${ACTIVE_ID} HTTP/1.0\r\n\r\n`), /^HTTP\/1\.1 200 /)

  // Asked leave to send a body no route takes: refused at once, never invited.
  const continued = await raw(port, `GET /payment-links/${ACTIVE_ID} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n`)
  t.match(continued, /^HTTP\/1\.1 400 /, 'no 100 Continue first')
  t.match(continued, /\r\nconnection: close\r\n/i)
  t.equal(problemOf(continued).type, 'urn:k2-bff:problem:body-not-allowed')
  // Asking for a 100 without announcing a body: the 100, the answer, and the connection kept.
  const bodiless = connect(port, '127.0.0.1')
  bodiless.write(`GET /payment-links/${ACTIVE_ID} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n`)
  let kept = ''
  for await (const chunk of bodiless) {
    kept += String(chunk)
    if (kept.includes(`"id":"${ACTIVE_ID}"`)) break
  }
  t.match(kept, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /)
  t.match(kept, /\r\nConnection: keep-alive\r\n/)
  bodiless.destroy()
  const unknown = await raw(port, `GET /payment-links/${ACTIVE_ID} HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n`)
  t.match(unknown, /^HTTP\/1\.1 200 /, 'an unknown expectation is ignored, not a bare 417')
  t.equal(JSON.parse(unknown.slice(unknown.indexOf('\r\n\r\n') + 4)).id, ACTIVE_ID)
})

t.test('a Host sent twice, or one that names no host and port: a 400 problem (RFC 9112 §3.2)', async t => {
  const { app, fake } = await buildTestApp(t)
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  // Cached first, so that a request let through would be answered at once.
  t.equal((await app.inject(`/payment-links/${ACTIVE_ID}`)).statusCode, 200)
  const get = async (version: string, hostLines: string) => await raw(port, `GET /payment-links/${ACTIVE_ID} HTTP/${version}\r\n${hostLines}\r\n`)

  const refused: Array<[string, string]> = [
    ['twice', 'Host: x\r\nHost: x\r\n'],
    ['twice, spelled apart', 'Host: bff.example\r\nhOST: evil.example\r\n'],
    ['twice, the second empty', 'Host: x\r\nHost:\r\n'],
    ['twice in HTTP/1.0', 'Host: x\r\nHost: y\r\n'],
    ['a space', 'Host: bff example\r\n'],
    ['a path', 'Host: bff.example/payment-links\r\n'],
    ['userinfo', 'Host: user@bff.example\r\n'],
    ['a port that is not a number', 'Host: bff.example:http\r\n'],
    ['an unclosed IPv6 literal', 'Host: [::1\r\n'],
    ['a bad escape', 'Host: bff%zz.example\r\n'],
    ['an escaped NUL', 'Host: bff%00.example\r\n'],
    ['brackets around a name', 'Host: [bff.example]\r\n'],
    ['a zone id not escaped', 'Host: [fe80::1%eth0]:3000\r\n'],
    ['two hosts in one line', 'Host: a.example, b.example\r\n']
  ]
  for (const [name, lines] of refused) {
    const answer = await get(name.endsWith('HTTP/1.0') ? '1.0' : '1.1', lines)
    t.match(answer, /^HTTP\/1\.1 400 /, name)
    t.match(answer, /\r\ncontent-type: application\/problem\+json; charset=utf-8\r\n/, name)
    t.match(answer, /\r\ncache-status: k2-bff; detail=rejected\r\n/, name)
    const problem = problemOf(answer)
    t.same(Object.keys(problem), ['type', 'title', 'status', 'detail', 'requestId'], name)
    t.match(problem, {
      type: 'urn:k2-bff:problem:invalid-host',
      title: 'Invalid Host header',
      status: 400,
      detail: 'A request names its host in one Host header: a host name or address, and an optional port.',
      requestId: /^[0-9a-f-]{36}$/
    }, name)
  }

  const accepted = ['Host: x', 'Host: bff.example:8443', 'Host: 127.0.0.1:3000', 'Host: [::1]:3000', 'Host: [2001:db8::7]', 'Host: [fe80::1%25eth0]:3000', 'Host: [::ffff:192.0.2.1]', 'Host: [v1.fe80::a+en1]',
    'Host: bff.example.', 'Host: xn--bff-ppa.example', 'Host: bff%2Dapi.example', 'Host: BFF.Example:', 'Host:', 'HOST: x']
  for (const line of accepted) t.match(await get('1.1', `${line}\r\n`), /^HTTP\/1\.1 200 /, line)
  // Past the 1,000 or so header lines Node keeps by default, still well within the parser's size limit.
  const filler = 'a:b\r\n'.repeat(1100)
  t.match(problemOf(await get('1.1', `Host: x\r\n${filler}Host: y\r\n`)), { type: 'urn:k2-bff:problem:invalid-host' }, 'a second Host after 1,100 lines')
  t.match(problemOf(await get('1.0', `${filler}Host: a b\r\n`)), { type: 'urn:k2-bff:problem:invalid-host' }, 'a bad Host after 1,100 lines')
  t.match(problemOf(await raw(port, `GET /payment-links/${ACTIVE_ID} HTTP/1.1\r\nHost: x\r\n${filler}Content-Length: 3\r\n\r\nabc`)),
    { type: 'urn:k2-bff:problem:body-not-allowed' }, 'a body announced after 1,100 lines')
  t.equal(fake.calls('status').length, 1, 'the one fetch that cached the link')
})
