import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { access, copyFile, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ACTIVE_ID, type Teardown } from './app.js'
import { FakeKopoKopo, TEST_CLIENT_ID, TEST_CLIENT_SECRET, upstreamLink } from './fake-kopokopo.js'
import { START_FLAGS } from './start-flags.js'

export const SERVER_JS = fileURLToPath(new URL('../../dist/src/server.js', import.meta.url))
const PACKAGE_JSON = fileURLToPath(new URL('../../package.json', import.meta.url))
const DIST = fileURLToPath(new URL('../../dist', import.meta.url))

export interface ServerProcess {
  child: ChildProcess
  /** Everything written to stdout and stderr so far. */
  output: () => string
  /** Parsed JSON log lines so far. */
  lines: () => Array<Record<string, unknown>>
  waitForLine: (match: (line: Record<string, unknown>) => boolean, timeoutMs?: number) => Promise<Record<string, unknown>>
  exited: Promise<number | null>
}

/**
 * The command that runs `argv` with exactly `environment`, through env -i:
 * the test runner adds its hooks (coverage among them) to a child's
 * environment even when one is given outright.
 */
export function outsideRunnerHooks (environment: Record<string, string>, argv: string[]): [string, string[]] {
  return ['/usr/bin/env', ['-i', ...Object.entries(environment).map(([name, value]) => `${name}=${value}`), ...argv]]
}

/** Runs the built service (`npm start`'s command) with exactly the given environment. */
export async function spawnServer (env: Record<string, string>, cwd?: string, user?: { uid: number, gid: number }): Promise<ServerProcess> {
  await access(SERVER_JS).catch(() => { throw new Error(`${SERVER_JS} is missing: run npm run build first`) })
  // By default an empty working directory, so a developer's .env cannot leak in.
  const dir = cwd ?? await mkdtemp(join(tmpdir(), 'k2-bff-run-'))
  const environment = { PATH: process.env.PATH ?? '', ...env }
  // As another user, outside the test runner's hooks: they would write where that user may not.
  const argv = [process.execPath, ...START_FLAGS, SERVER_JS]
  const [command, args] = user === undefined ? [argv[0]!, argv.slice(1)] : outsideRunnerHooks(environment, argv)
  const child = spawn(command, args, {
    cwd: dir,
    ...user,
    env: environment,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  return watch(child, async () => { if (cwd === undefined) await rm(dir, { recursive: true, force: true }) })
}

/**
 * Runs an npm script (`npm start`, `npm run simulator`) itself, npm and its
 * script shell included, with exactly the given environment. In a directory of
 * its own holding package.json and a link to the build, so a developer's .env
 * cannot leak in.
 */
export async function spawnNpm (script: 'start' | 'simulator', env: Record<string, string>): Promise<ServerProcess> {
  await access(SERVER_JS).catch(() => { throw new Error(`${SERVER_JS} is missing: run npm run build first`) })
  const dir = await mkdtemp(join(tmpdir(), 'k2-bff-npm-'))
  await copyFile(PACKAGE_JSON, join(dir, 'package.json'))
  await symlink(DIST, join(dir, 'dist'), 'dir')
  const child = spawn('npm', ['run', script], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', npm_config_update_notifier: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  return watch(child, async () => { await rm(dir, { recursive: true, force: true }) })
}

function watch (child: ChildProcess, cleanUp: () => Promise<void>): ServerProcess {
  let text = ''
  const parsed: Array<Record<string, unknown>> = []
  const waiters = new Set<() => void>()
  const onData = (chunk: Buffer) => {
    text += chunk.toString()
    const complete = text.split('\n').slice(0, -1)
    parsed.length = 0
    for (const line of complete) {
      try {
        parsed.push(JSON.parse(line))
      } catch {}
    }
    for (const wake of waiters) wake()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exited = once(child, 'exit').then(async ([code]) => {
    await cleanUp()
    return code as number | null
  })

  const waitForLine = async (match: (line: Record<string, unknown>) => boolean, timeoutMs = 10_000) => {
    return await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`no matching log line; output:\n${text}`)) }, timeoutMs)
      const check = () => {
        const found = parsed.find(match)
        if (found === undefined) return
        clearTimeout(timer)
        waiters.delete(check)
        resolve(found)
      }
      waiters.add(check)
      check()
      exited.then(() => { if (waiters.has(check)) { clearTimeout(timer); waiters.delete(check); reject(new Error(`exited; output:\n${text}`)) } }, () => {})
    })
  }
  return { child, output: () => text, lines: () => [...parsed], waitForLine, exited }
}

/** The listening URL from Fastify's "Server listening at" line. */
export async function listeningUrl (server: ServerProcess): Promise<string> {
  const line = await server.waitForLine(l => typeof l.msg === 'string' && l.msg.startsWith('Server listening at '))
  return String(line.msg).slice('Server listening at '.length)
}

/** The built service, spawned against a fake Kopo Kopo that knows ACTIVE_ID; both stop with the test. */
export async function serveAgainstFake (t: Teardown, env: Record<string, string> = {}) {
  const fake = await new FakeKopoKopo().start()
  t.teardown(() => fake.close())
  fake.links.set(ACTIVE_ID, upstreamLink(ACTIVE_ID))
  const server = await spawnServer({
    PORT: '0', METRICS_PORT: '0', K2_BASE_URL: fake.url, K2_CLIENT_ID: TEST_CLIENT_ID, K2_CLIENT_SECRET: TEST_CLIENT_SECRET, ...env
  })
  t.teardown(() => { server.child.kill('SIGKILL') })
  return { fake, server, url: await listeningUrl(server) }
}
