import type { Browser, Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { SEED_IDS } from '../src/simulator/seed.js'
import { checkPrerequisites, launchChromium, startServer, startStaticPage, STEP_TIMEOUT_MS, type LogLine, type Service } from './helpers.js'

// What a merchant's checkout page does: a script on the shop's origin polls the
// service, on another origin, with fetch. Everything here is judged by the real
// browser: CORS grants, exposed headers, preflights, its HTTP cache.

const API_KEY = 'checkout-browser-test-key-0001'
const CHECKOUT_HTML = '<!doctype html><html lang="en"><meta charset="utf-8"><title>Checkout</title><p>Checkout</p></html>'

/** What a page's script can see of one fetch, or the error it threw. */
type Seen =
  | { status: number, headers: Record<string, string>, text: string }
  | { error: { name: string, message: string } }

/** Runs `fetch(url, init)` in the page, bounded by STEP_TIMEOUT_MS, and reports what the script can read. */
async function pageFetch (page: Page, url: string, init: { cache?: 'default' | 'no-cache' | 'no-store', headers?: Record<string, string> } = {}): Promise<Seen> {
  return await page.evaluate(async ({ url, init, timeoutMs }) => {
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) })
      // Only the headers CORS lets the script read are iterable here.
      return { status: response.status, headers: Object.fromEntries(response.headers), text: await response.text() }
    } catch (err) {
      return { error: { name: (err as Error).name, message: (err as Error).message } }
    }
  }, { url, init, timeoutMs: STEP_TIMEOUT_MS })
}

/** The answer the script read; a fetch that threw ends the test there. */
function answered (seen: Seen): Exclude<Seen, { error: unknown }> {
  if ('error' in seen) throw new Error(`the script could not read the answer: ${seen.error.name}: ${seen.error.message}`)
  return seen
}

/** The script read this problem, with the headers of a refusal before the cache. */
function readsProblem (t: Test, seen: Exclude<Seen, { error: unknown }>, problem: { type: string, title: string, status: number, detail: string }) {
  t.equal(seen.status, problem.status, `the script reads the ${problem.status}`)
  t.equal(seen.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.equal(seen.headers['cache-control'], 'no-store')
  t.equal(seen.headers['cache-status'], 'k2-bff; detail=rejected', 'Cache-Status is exposed')
  t.strictSame(JSON.parse(seen.text), { ...problem, requestId: seen.headers['x-request-id'] },
    'the script reads the problem document, its requestId the exposed X-Request-Id')
}

/** The access-log lines of requests for `path`, so far. */
const requestsFor = (service: Service, path: string): LogLine[] =>
  service.lines.filter(line => line.msg === 'request' && line.path === path)

checkPrerequisites()
const checkout = await startStaticPage(t, CHECKOUT_HTML)
// Another port is another origin: a page there is not granted CORS.
const elsewhere = await startStaticPage(t, CHECKOUT_HTML)
const open = await startServer(t, { CORS_ORIGINS: checkout })
const keyed = await startServer(t, { CORS_ORIGINS: checkout, API_KEYS: API_KEY })
const browser: Browser = await launchChromium(t)

/** A fresh page (its own context: own HTTP and preflight caches) at `origin`. */
async function openPage (t: Test, origin: string): Promise<{ page: Page, consoleMessages: (count: number) => Promise<string[]> }> {
  const context = await browser.newContext()
  t.teardown(() => context.close())
  const page = await context.newPage()
  page.setDefaultTimeout(STEP_TIMEOUT_MS)
  const messages: string[] = []
  const listeners = new Set<() => void>()
  page.on('console', message => {
    messages.push(`${message.type()}: ${message.text()}`)
    for (const listener of [...listeners]) listener()
  })
  /** The console's messages once there are `count`, at most STEP_TIMEOUT_MS from now. */
  const consoleMessages = (count: number) => new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      listeners.delete(check)
      reject(new Error(`${messages.length} console messages after ${STEP_TIMEOUT_MS} ms, not ${count}: ${messages.join('\n')}`))
    }, STEP_TIMEOUT_MS)
    function check () {
      if (messages.length < count) return
      clearTimeout(timer)
      listeners.delete(check)
      resolve([...messages])
    }
    listeners.add(check)
    check()
  })
  t.equal((await page.goto(`${origin}/`))?.status(), 200, 'the checkout page loads')
  return { page, consoleMessages }
}

t.test('the checkout page reads a payment link and the headers exposed to it', async t => {
  const { page } = await openPage(t, checkout)
  const path = `/payment-links/${SEED_IDS.paid}`
  // Every earlier payment-link request from 127.0.0.1 has spent one of the budget.
  const spent = open.lines.filter(line => line.msg === 'request' && line.route === '/payment-links/:id').length

  const seen = answered(await pageFetch(page, `${open.url}${path}`))
  t.equal(seen.status, 200, 'the script reads a 200')
  const body = JSON.parse(seen.text) as Record<string, unknown>
  t.strictSame({ ...body, createdAt: null, expiresAt: null, url: null }, {
    id: SEED_IDS.paid,
    state: 'paid',
    status: 'Processed',
    linkStatus: 'Paid',
    amount: '20000',
    currency: 'KES',
    reference: 'SIM-PAID-0001',
    note: 'Simulated paid payment link',
    tillName: 'Simulated Shop',
    tillNumber: '000000',
    createdAt: null,
    expiresAt: null,
    url: null,
    error: null
  }, 'the script reads the JSON body')

  const { headers } = seen
  t.strictSame(Object.keys(headers).sort(), [
    'cache-control', 'cache-status', 'content-length', 'content-type', 'etag',
    'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-request-id'
  ], 'the script sees the safelisted headers and exactly the exposed ones present')
  t.equal(headers['content-type'], 'application/json; charset=utf-8')
  t.equal(headers['cache-status'], 'k2-bff; fwd=miss; stored', 'Cache-Status is exposed')
  t.equal(headers['x-ratelimit-limit'], '120', 'X-RateLimit-Limit is exposed')
  t.equal(headers['x-ratelimit-remaining'], String(120 - spent - 1), 'X-RateLimit-Remaining is exposed')
  t.match(headers.etag, /^"[^"]+"$/, 'ETag is exposed')
  t.match(headers['x-request-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'X-Request-Id is exposed')

  // The log line of that very request, found by the id the script read.
  const line = await open.waitForLine(`for ${headers['x-request-id']}`, l => l.requestId === headers['x-request-id'])
  t.strictSame([line.method, line.path, line.status, line.cache], ['GET', path, 200, 'k2-bff; fwd=miss; stored'], 'the service logged that request')

  // The same link fetched outside any browser: the same bytes and validator.
  const direct = await fetch(`${open.url}${path}`, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  t.equal(direct.status, 200)
  t.equal(await direct.text(), seen.text, 'the page read the same body a server-side client gets')
  t.equal(direct.headers.get('etag'), headers.etag, 'and the same ETag')
})

t.test('polling with cache: "no-cache" revalidates: the service answers 304, the script gets the 200 it kept', async t => {
  const { page } = await openPage(t, checkout)
  const path = `/payment-links/${SEED_IDS.expired}`

  const first = answered(await pageFetch(page, `${open.url}${path}`))
  t.equal(first.status, 200)
  t.equal(first.headers['cache-status'], 'k2-bff; fwd=miss; stored', 'Cache-Status is exposed')
  const firstLine = await open.waitForLine(`for ${first.headers['x-request-id']}`, l => l.requestId === first.headers['x-request-id'])
  t.equal(firstLine.status, 200)

  const second = answered(await pageFetch(page, `${open.url}${path}`, { cache: 'no-cache' }))
  t.equal(second.status, 200, 'the browser turns the 304 into its kept 200')
  t.equal(second.text, first.text, 'with the same body')
  t.strictSame(JSON.parse(second.text), JSON.parse(first.text))
  t.equal(JSON.parse(second.text).state, 'expired')
  t.equal(second.headers.etag, first.headers.etag, 'and the same ETag')
  t.not(second.headers['x-request-id'], first.headers['x-request-id'], 'the browser asked the service again')

  const secondLine = await open.waitForLine(`for ${second.headers['x-request-id']}`, l => l.requestId === second.headers['x-request-id'])
  t.strictSame([secondLine.method, secondLine.path, secondLine.status], ['GET', path, 304], 'the service answered 304 Not Modified')
  t.match(secondLine.cache, /^k2-bff; hit; ttl=\d+$/)
  t.equal(second.headers['cache-status'], secondLine.cache, 'the script reads the 304\'s Cache-Status, merged into the kept answer')
  t.strictSame(requestsFor(open, path).map(l => [l.method, l.status]), [['GET', 200], ['GET', 304]], 'two requests reached the service: a 200 then a 304')
})

t.test('with API keys: X-API-Key is preflighted and granted; without a key the script reads the 401 problem', async t => {
  const { page } = await openPage(t, checkout)
  const path = `/payment-links/${SEED_IDS.paid}`
  const logged = async (seen: { headers: Record<string, string> }) => {
    const id = seen.headers['x-request-id']
    await keyed.waitForLine(`for ${id}`, l => l.requestId === id)
    return requestsFor(keyed, path).map(l => [l.method, l.status])
  }

  const refused = answered(await pageFetch(page, `${keyed.url}${path}`))
  readsProblem(t, refused, {
    type: 'urn:k2-bff:problem:unauthorized',
    title: 'Unauthorized',
    status: 401,
    detail: 'An API key is required: send Authorization: Bearer <key> or X-API-Key: <key>.'
  })
  t.strictSame(await logged(refused), [['GET', 401]], 'a GET without a key is a simple request: no preflight')

  // A wrong key first: its 401 is no-store, so the browser's HTTP cache keeps
  // nothing that could answer the right key's request below.
  const wrong = answered(await pageFetch(page, `${keyed.url}${path}`, { headers: { 'X-API-Key': 'not-the-key-but-long-enough' } }))
  t.equal(wrong.status, 401, 'a wrong key: the script reads the 401')
  t.equal(wrong.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.equal(JSON.parse(wrong.text).detail, 'The API key is not valid.')
  t.strictSame(await logged(wrong), [['GET', 401], ['OPTIONS', 204], ['GET', 401]],
    'X-API-Key made the browser send a preflight; the service granted it, then the GET went out')

  const granted = answered(await pageFetch(page, `${keyed.url}${path}`, { headers: { 'X-API-Key': API_KEY } }))
  t.equal(granted.status, 200, 'the right key: the script reads the 200')
  t.equal(granted.headers['content-type'], 'application/json; charset=utf-8')
  t.equal(granted.headers['cache-status'], 'k2-bff; fwd=miss; stored')
  const body = JSON.parse(granted.text) as Record<string, unknown>
  t.strictSame([body.id, body.state, body.reference], [SEED_IDS.paid, 'paid', 'SIM-PAID-0001'], 'and its body')
  t.strictSame(await logged(granted), [['GET', 401], ['OPTIONS', 204], ['GET', 401], ['GET', 200]],
    'the right key is granted, under the preflight the browser cached (Access-Control-Max-Age)')

  // The keyed 200 is fresh in the browser's cache for minutes; asked without
  // the key, the browser must still go to the service (Vary).
  const keyless = answered(await pageFetch(page, `${keyed.url}${path}`))
  t.equal(keyless.status, 401, 'without the key the script reads a 401, not the 200 kept for the key')
  t.strictSame(await logged(keyless), [['GET', 401], ['OPTIONS', 204], ['GET', 401], ['GET', 200], ['GET', 401]],
    'the request reached the service')
})

t.test('a page on an origin not in CORS_ORIGINS cannot read an answer', async t => {
  const { page, consoleMessages } = await openPage(t, elsewhere)
  const path = `/payment-links/${SEED_IDS.cancelled}`

  t.strictSame(await pageFetch(page, `${open.url}${path}`), { error: { name: 'TypeError', message: 'Failed to fetch' } },
    'fetch rejects: CORS blocked the answer')
  const line = await open.waitForLine(`for ${path}`, l => l.msg === 'request' && l.path === path)
  t.strictSame([line.method, line.status], ['GET', 200], 'the simple GET was sent and answered; the browser withheld it')
  // Chromium's wording, matched loosely enough to survive its rewording.
  const blocked = (url: string) => new RegExp(`^error: Access to fetch at '${url}' from origin '${elsewhere}' has been blocked by CORS policy: .*Access-Control-Allow-Origin`)
  const [why, failed] = await consoleMessages(2)
  t.match(why, blocked(`${open.url}${path}`), 'Chromium says why')
  t.match(failed, /^error: .*net::ERR_FAILED/)

  // A request that needs a preflight never goes out: the preflight gets no grant.
  const preflighted = `/payment-links/${SEED_IDS.failed}`
  t.strictSame(await pageFetch(page, `${open.url}${preflighted}`, { headers: { 'X-Request-Id': 'checkout-elsewhere-1' } }),
    { error: { name: 'TypeError', message: 'Failed to fetch' } }, 'a preflighted fetch rejects too')
  await open.waitForLine(`for the preflight of ${preflighted}`, l => l.msg === 'request' && l.path === preflighted)
  // A request made after it, as a barrier: any GET the browser sent would be logged by then.
  const barrier = await fetch(`${open.url}/health/live`, { headers: { 'x-request-id': 'checkout-barrier-1' }, signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  t.equal(barrier.status, 200, 'the barrier request')
  await open.waitForLine('for the barrier request', l => l.requestId === 'checkout-barrier-1')
  t.strictSame(requestsFor(open, preflighted).map(l => [l.method, l.status]), [['OPTIONS', 204]], 'only the preflight reached the service')
  const [, , preflightWhy, preflightFailed] = await consoleMessages(4)
  t.match(preflightWhy, blocked(`${open.url}${preflighted}`), 'Chromium says the preflight was refused')
  t.match(preflightWhy, /preflight/)
  t.match(preflightFailed, /^error: .*net::ERR_FAILED/)
})

t.test('a problem answer is readable by the checkout page', async t => {
  const { page } = await openPage(t, checkout)

  const seen = answered(await pageFetch(page, `${open.url}/payment-links/not-a-uuid`))
  readsProblem(t, seen, {
    type: 'urn:k2-bff:problem:invalid-id',
    title: 'Invalid payment link id',
    status: 400,
    detail: 'The payment link id must be a UUID.'
  })
  const line = await open.waitForLine(`for ${seen.headers['x-request-id']}`, l => l.requestId === seen.headers['x-request-id'])
  t.strictSame([line.method, line.path, line.status], ['GET', '/payment-links/not-a-uuid', 400], 'the service logged that request')
})
