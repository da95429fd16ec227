import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { SEED_IDS } from '../../src/simulator/seed.js'
import { requestToken } from './helper.js'

// The built entry point, as `npm run simulator` runs it; `npm test` builds first.
const CLI = fileURLToPath(new URL('../../dist/src/simulator/cli.js', import.meta.url))
const SECRET = 'cli-test-secret-value'

// By default in an empty directory, so a developer's .env cannot leak in.
function runCli (env: Record<string, string>, cwd = mkdtempSync(join(tmpdir(), 'k2-sim-'))) {
  const child = spawn(process.execPath, [CLI], {
    cwd,
    env: { PATH: process.env.PATH ?? '', SIMULATOR_HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  return { child, exited, output: () => output }
}

t.before(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`)
})

t.test('the CLI serves tokens, logs its URL, and exits 0 on SIGTERM', async (t) => {
  const { child, exited, output } = runCli({
    SIMULATOR_PORT: '0',
    K2_CLIENT_ID: 'cli-test-id',
    K2_CLIENT_SECRET: SECRET
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })

  const lines = createInterface({ input: child.stdout })
  const [first] = await once(lines, 'line') as [string]
  const started = JSON.parse(first) as { url: string, ids: unknown }
  t.match(started.url, /^http:\/\/127\.0\.0\.1:[1-9][0-9]*$/)
  t.strictSame(started.ids, SEED_IDS)

  const token = await requestToken(started.url, {
    client_id: 'cli-test-id',
    client_secret: SECRET,
    grant_type: 'client_credentials'
  })
  t.equal(token.statusCode, 200)
  t.match(token.json, { token_type: 'Bearer', expires_in: 3600 })

  child.kill('SIGTERM')
  const [code, signal] = await exited
  t.equal(code, 0)
  t.equal(signal, null)
  t.notMatch(output(), SECRET, 'the secret is never printed')
})

t.test('the CLI honours SIMULATOR_TOKEN_TTL_SECONDS and exits 0 on SIGINT', async (t) => {
  const { child, exited } = runCli({ SIMULATOR_PORT: '0', SIMULATOR_TOKEN_TTL_SECONDS: '90' })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const [first] = await once(createInterface({ input: child.stdout }), 'line') as [string]
  const token = await requestToken((JSON.parse(first) as { url: string }).url, {
    client_id: 'simulator-client-id',
    client_secret: 'simulator-client-secret',
    grant_type: 'client_credentials'
  })
  t.match(token.json, { expires_in: 90 })
  child.kill('SIGINT')
  t.strictSame(await exited, [0, null])
})

t.test('the CLI reads a .env in its working directory, the environment winning', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'k2-sim-env-'))
  writeFileSync(join(dir, '.env'), 'SIMULATOR_TOKEN_TTL_SECONDS=45\nK2_CLIENT_ID=from-file-id\nK2_CLIENT_SECRET=from-file-secret\nSIMULATOR_PORT=1\n')
  const { child, exited } = runCli({ SIMULATOR_PORT: '0' }, dir)
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const [first] = await once(createInterface({ input: child.stdout }), 'line') as [string]
  const token = await requestToken((JSON.parse(first) as { url: string }).url, {
    client_id: 'from-file-id',
    client_secret: 'from-file-secret',
    grant_type: 'client_credentials'
  })
  t.match(token.json, { expires_in: 45 }, 'the pair and the lifetime come from the file; the port from the environment')
  child.kill('SIGTERM')
  t.strictSame(await exited, [0, null])
})

t.test('a .env it cannot read exits 1 naming it, rather than starting without it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'k2-sim-env-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  mkdirSync(join(dir, '.env'))
  const { exited, output } = runCli({ SIMULATOR_PORT: '0' }, dir)
  t.strictSame(await exited, [1, null])
  t.equal(output(), 'Cannot read .env in the working directory: it is a directory. Fix it, or remove it to use the environment alone.\n')
})

t.test('an invalid SIMULATOR_PORT exits 1 naming the variable', async (t) => {
  const { exited, output } = runCli({ SIMULATOR_PORT: 'not-a-port' })
  const [code] = await exited
  t.equal(code, 1)
  t.equal(output(), 'Invalid simulator configuration:\n  SIMULATOR_PORT must be an integer from 0 to 65535, got "not-a-port"\n')
})

t.test('a port already in use exits 1 with a reason', async (t) => {
  const first = runCli({ SIMULATOR_PORT: '0' })
  t.teardown(() => { if (first.child.exitCode === null) first.child.kill('SIGKILL') })
  const [line] = await once(createInterface({ input: first.child.stdout }), 'line') as [string]
  const port = new URL((JSON.parse(line) as { url: string }).url).port

  const second = runCli({ SIMULATOR_PORT: port })
  const [code] = await second.exited
  t.equal(code, 1)
  t.match(second.output(), /^Kopo Kopo simulator could not start: .*EADDRINUSE/)
  first.child.kill('SIGTERM')
  await first.exited
})
