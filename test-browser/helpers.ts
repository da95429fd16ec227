import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser } from 'playwright-core'
import type { Test } from 'tap'

// The built entry point, as operators run it; `npm run test:browser` builds first.
export const SERVER = fileURLToPath(new URL('../dist/src/server.js', import.meta.url))
// Debian's package (`apt-get install -y chromium`); playwright's own download is not used.
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
// Without the background-networking flags Chromium calls Google hosts at start-up.
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]
/** The bound on every wait: a browser step, a log line, a start-up. */
export const STEP_TIMEOUT_MS = 15_000

/** Throws a readable error when the build or Chromium is missing. */
export function checkPrerequisites (): void {
  if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: run \`npm run build\` first`)
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`apt-get install -y chromium\` or set CHROMIUM_PATH`)
}

/** One JSON line of the service's stdout (pino); the fields the tests read. */
export interface LogLine {
  level?: number
  msg?: string
  requestId?: string
  method?: string
  route?: string
  path?: string
  status?: number
  cache?: string
  seededIds?: unknown
}

export interface Service {
  /** `http://127.0.0.1:<port>`, the service's origin. */
  url: string
  seededIds: unknown
  child: ChildProcessByStdio<null, Readable, Readable>
  exited: Promise<[number | null, NodeJS.Signals | null]>
  /** Every stdout line so far, in order. */
  lines: LogLine[]
  /** The first line (from index `from`) matching `predicate`; rejects after STEP_TIMEOUT_MS or when the service exits. */
  waitForLine: (what: string, predicate: (line: LogLine) => boolean, from?: number) => Promise<LogLine>
}

/**
 * `node dist/src/server.js` with no Kopo Kopo credentials: the built-in
 * simulator, on 127.0.0.1 and a port of the system's choosing, metrics off.
 * `env` adds variables (CORS_ORIGINS, API_KEYS, ...). Killed in `t`'s teardown.
 */
export async function startServer (t: Test, env: Record<string, string> = {}): Promise<Service> {
  // An empty working directory, so a developer's .env cannot add credentials.
  const cwd = mkdtempSync(join(tmpdir(), 'bff-browser-'))
  const child = spawn(process.execPath, [SERVER], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'info', ...env },
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

  // Every line is kept and announced, so a test can wait for the access-log
  // line of a request it made; reading never stops, so the pipe never blocks.
  const lines: LogLine[] = []
  const listeners = new Set<() => void>()
  const notify = () => { for (const listener of [...listeners]) listener() }
  createInterface({ input: child.stdout }).on('line', text => {
    let line: LogLine
    try {
      line = JSON.parse(text) as LogLine
    } catch {
      line = { msg: text }
    }
    lines.push(line)
    notify()
  })
  child.once('exit', notify)

  const waitForLine = (what: string, predicate: (line: LogLine) => boolean, from = 0) => new Promise<LogLine>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer)
      listeners.delete(check)
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`no log line ${what} within ${STEP_TIMEOUT_MS} ms; stderr:\n${stderr}`))
    }, STEP_TIMEOUT_MS)
    function check () {
      const found = lines.slice(from).find(predicate)
      if (found !== undefined) {
        done()
        resolve(found)
      } else if (child.exitCode !== null || child.signalCode !== null) {
        done()
        reject(new Error(`the service exited before a log line ${what}; stderr:\n${stderr}`))
      }
    }
    listeners.add(check)
    check()
  })

  const listening = /^Server listening at (http:\/\/127\.0\.0\.1:\d+)$/
  const started = await waitForLine('saying the server listens', line => listening.test(line.msg ?? ''))
  const seeded = await waitForLine('listing the seeded ids', line => line.seededIds !== undefined)
  const url = listening.exec(started.msg ?? '')?.[1] as string
  return { url, seededIds: seeded.seededIds, child, exited, lines, waitForLine }
}

/** Headless Debian Chromium, closed in `t`'s teardown. */
export async function launchChromium (t: Test): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: STEP_TIMEOUT_MS })
  t.teardown(() => browser.close())
  return browser
}

/**
 * A static HTTP server on 127.0.0.1 and a port of the system's choosing,
 * answering `html` at `/`, 204 at `/favicon.ico` and 404 elsewhere: another origin than the service's.
 * Returns its origin; closed in `t`'s teardown.
 */
export async function startStaticPage (t: Test, html: string): Promise<string> {
  const server = createServer((request, response) => {
    // No icon, and no 404 for it in the page's console either.
    if (request.url === '/favicon.ico') {
      response.writeHead(204).end()
      return
    }
    const found = request.url === '/'
    response.writeHead(found ? 200 : 404, { 'content-type': found ? 'text/html; charset=utf-8' : 'text/plain', 'cache-control': 'no-store' })
    response.end(found ? html : 'not found')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => { resolve() }))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}
