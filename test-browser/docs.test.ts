import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser } from 'playwright-core'
import t, { type Test } from 'tap'
import { SEED_IDS } from '../src/simulator/seed.js'

// The built entry point, as operators run it; `npm run test:browser` builds first.
const SERVER = fileURLToPath(new URL('../dist/src/server.js', import.meta.url))
// Debian's package (`apt-get install -y chromium`); playwright's own download is not used.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
// Without the background-networking flags Chromium calls Google hosts at start-up.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]
const SCREENSHOT = join(tmpdir(), 'docs.png')
const STEP_TIMEOUT_MS = 15_000

t.before(() => {
  if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: run \`npm run build\` first`)
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`apt-get install -y chromium\` or set CHROMIUM_PATH`)
})

/** `node dist/src/server.js` with no Kopo Kopo credentials: the built-in simulator. */
async function startServer (t: Test) {
  // An empty working directory, so a developer's .env cannot add credentials.
  const cwd = mkdtempSync(join(tmpdir(), 'bff-docs-'))
  const child = spawn(process.execPath, [SERVER], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
    rmSync(cwd, { recursive: true, force: true })
  })

  let url: string | undefined
  let seededIds: unknown
  for await (const line of createInterface({ input: child.stdout })) {
    const entry = JSON.parse(line) as { msg?: string, seededIds?: unknown }
    url ??= /^Server listening at (http:\/\/127\.0\.0\.1:\d+)$/.exec(entry.msg ?? '')?.[1]
    if (entry.seededIds !== undefined) seededIds = entry.seededIds
    if (url !== undefined && seededIds !== undefined) break
  }
  if (url === undefined) throw new Error(`the server did not start:\n${stderr}`)
  // Leaving the loop pauses stdout; keep draining it so later log lines never block.
  child.stdout.resume()
  return { url, seededIds, child, exited }
}

t.test('/docs loads under its CSP and "Try it out" gets a paid link from the simulator', async (t) => {
  const server = await startServer(t)
  t.strictSame(server.seededIds, SEED_IDS, 'the simulator warning lists the seeded ids')

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
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
