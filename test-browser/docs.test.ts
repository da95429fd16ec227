import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { SEED_IDS } from '../src/simulator/seed.js'
import { checkPrerequisites, launchChromium, startServer, STEP_TIMEOUT_MS } from './helpers.js'

const SCREENSHOT = join(tmpdir(), 'docs.png')

t.before(checkPrerequisites)

t.test('/docs loads under its CSP and "Try it out" gets a paid link from the simulator', async (t) => {
  const server = await startServer(t)
  t.strictSame(server.seededIds, SEED_IDS, 'the simulator warning lists the seeded ids')

  const browser = await launchChromium(t)
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } })
  page.setDefaultTimeout(STEP_TIMEOUT_MS)

  const problems: string[] = []
  page.on('console', message => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`)
  })
  page.on('pageerror', err => { problems.push(`page error: ${err.message}`) })
  page.on('requestfailed', request => { problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`) })

  const docs = await page.goto(`${server.url}/docs`)
  t.equal(docs?.status(), 200)
  const csp = docs?.headers()['content-security-policy']
  t.match(csp, /^default-src 'self';.* script-src 'self'/, '/docs carries its own CSP, not the API\'s default-src \'none\'')
  t.notMatch(csp, 'unsafe-inline')

  const operation = page.locator('.opblock-get').filter({ has: page.locator('[data-path="/payment-links/{id}"]') })
  await operation.locator('.opblock-summary-control').click()
  await operation.getByRole('button', { name: 'Try it out' }).click()
  await operation.locator('tr[data-param-name="id"] input').fill(SEED_IDS.paid)
  await operation.getByRole('button', { name: 'Execute' }).click()

  // The live response, not the documented examples below it; its body sits
  // under the "Response body" heading (the headers are a second <pre>).
  const response = operation.locator('.live-responses-table .response')
  const body = response.locator('div:has(> h5:text-is("Response body")) pre')
  await body.waitFor()
  t.equal((await response.locator('.response-col_status').innerText()).trim(), '200')
  t.match(await body.innerText(), '"state": "paid"')

  // The top of the page: the top bar, the expanded operation and its live response.
  await page.screenshot({ path: SCREENSHOT, fullPage: true, clip: { x: 0, y: 0, width: 1280, height: 1400 } })
  t.strictSame(problems, [], 'no console errors or warnings, page errors or failed requests')
  t.notMatch(problems.join('\n'), /Content Security Policy|Refused to/)

  await browser.close()
  server.child.kill('SIGTERM')
  t.strictSame(await server.exited, [0, null], 'SIGTERM exits 0')
})
