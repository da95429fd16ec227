import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { startSimulator } from '../src/simulator/app.js'
import { SEED_IDS } from '../src/simulator/seed.js'

// The production start path as the image runs it: the built package with only
// its production dependencies, NODE_ENV=production, real credentials, a real
// upstream over HTTP. It catches a runtime import of a dev dependency, a file
// the build does not emit, and a shutdown that does not exit 0.

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SERVER = join('dist', 'src', 'server.js')
const CLIENT_ID = 'prod-test-client'
const CLIENT_SECRET = 'prod-test-secret-not-real'
const LISTENING = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/

t.setTimeout(180_000)

if (!existsSync(join(ROOT, SERVER))) {
  throw new Error(`${join(ROOT, SERVER)} is missing: run \`npm run build\` first (\`npm test\` does)`)
}

const dir = mkdtempSync(join(tmpdir(), 'k2-bff-production-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
for (const entry of ['package.json', 'package-lock.json', 'dist']) {
  cpSync(join(ROOT, entry), join(dir, entry), { recursive: true })
}

// The same install the image's deps stage makes; the tests below run from it.
let installMs = 0
t.before(async () => {
  const started = Date.now()
  await promisify(execFile)('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: dir,
    timeout: 170_000
  })
  installMs = Date.now() - started
})

type Child = ChildProcessByStdio<null, Readable, Readable>
interface Server { child: Child, output: () => string, exited: Promise<[number | null, NodeJS.Signals | null]> }

function startServer (t: Test, env: Record<string, string>): Server {
  const child = spawn(process.execPath, [SERVER], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  // 'close', not 'exit': by then stdout and stderr have been read to the end.
  const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  return { child, output: () => output, exited }
}

/** The URL from Fastify's "Server listening at" log line; rejects if the process exits first. */
async function listeningUrl (child: Child, exited: Promise<unknown>, output: () => string): Promise<string> {
  const lines = createInterface({ input: child.stdout })
  const url = new Promise<string>((resolve) => {
    lines.on('line', (line) => {
      const match = LISTENING.exec(line)
      if (match !== null) resolve(match[1] as string)
    })
  })
  const early = exited.then(() => { throw new Error(`the server exited before listening:\n${output()}`) })
  try {
    return await Promise.race([url, early])
  } finally {
    lines.close()
  }
}

t.test('npm ci --omit=dev installs no dev dependencies', async (t) => {
  t.comment(`npm ci --omit=dev took ${installMs} ms`)
  t.ok(existsSync(join(dir, 'node_modules', 'fastify')), 'production dependencies are installed')
  for (const dev of ['typescript', 'tap', 'eslint', '@types/node']) {
    t.notOk(existsSync(join(dir, 'node_modules', dev)), `${dev} is absent`)
  }
  // Every package the lockfile marks dev-only (yaml, say, is not: swagger needs it).
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> }
  const devOnly = Object.entries(lock.packages).filter(([path, p]) => path !== '' && p.dev === true).map(([path]) => path)
  t.ok(devOnly.includes('node_modules/typescript'), 'the lockfile marks dev-only packages')
  t.strictSame(devOnly.filter(path => existsSync(join(dir, path))), [], 'no dev-only package is installed')
})

t.test('NODE_ENV=production serves Kopo Kopo and exits 0 on SIGTERM', async (t) => {
  const simulator = await startSimulator({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, host: '127.0.0.1', port: 0 })
  t.teardown(() => simulator.close())
  const { child, output, exited } = startServer(t, {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    K2_BASE_URL: simulator.url,
    K2_CLIENT_ID: CLIENT_ID,
    K2_CLIENT_SECRET: CLIENT_SECRET
  })
  const url = await listeningUrl(child, exited, output)

  const ready = await fetch(`${url}/health/ready`)
  t.equal(ready.status, 200)
  t.strictSame(await ready.json(), { status: 'ok', upstream: 'kopokopo' })

  const link = await fetch(`${url}/payment-links/${SEED_IDS.paid}`)
  t.equal(link.status, 200)
  t.match(await link.json(), { id: SEED_IDS.paid, state: 'paid', linkStatus: 'Paid' })
  // Answered by the simulator given as K2_BASE_URL, not the in-process one
  // that only runs without credentials.
  t.strictSame({ ...simulator.stats }, { tokenRequests: 1, statusRequests: 1 }, 'the configured upstream was called')
  t.notMatch(output(), 'NO KOPO KOPO CREDENTIALS SET', 'the built-in simulator stayed off')

  child.kill('SIGTERM')
  t.strictSame(await exited, [0, null], 'SIGTERM exits 0')
  t.match(output(), /"signal":"SIGTERM".*"msg":"shutting down"/, 'the shutdown is logged')
  t.notOk(output().includes(CLIENT_SECRET), 'the client secret is never printed')
})

t.test('NODE_ENV=production without credentials refuses to start', async (t) => {
  const { output, exited } = startServer(t, { NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0' })
  const [code] = await exited
  t.equal(code, 1)
  t.match(output(), /^Invalid configuration \(3 variables\):\n {2}K2_CLIENT_ID: required when NODE_ENV=production/)
  t.match(output(), /\n {2}K2_CLIENT_SECRET: required when NODE_ENV=production/)
  t.match(output(), /\n {2}K2_BASE_URL: required when NODE_ENV=production: https:\/\/api\.kopokopo\.com for live payments/)
  t.notMatch(output(), 'Server listening', 'nothing listened')
})
