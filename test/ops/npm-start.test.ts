import { readFile } from 'node:fs/promises'
import { connect } from 'node:net'
import t from 'tap'
import { listeningUrl, spawnNpm } from '../helpers/process.js'
import { START_FLAGS } from '../helpers/start-flags.js'

/** How a connection attempt to the port on loopback ends: 'connected' or the error's code. */
async function tryConnect (port: number): Promise<string> {
  return await new Promise<string>(resolve => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve('connected') })
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
  })
}

function isRunning (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

// npm runs the script through `sh -c`: a shell left between npm and node dies
// on npm's SIGTERM without passing it on, and node, re-parented, keeps serving
// and holding the port.
t.test('SIGTERM to `npm start` reaches the service: it shuts down and frees its port', async t => {
  const server = await spawnNpm('start', { PORT: '0', METRICS_PORT: '0' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  const url = await listeningUrl(server)
  const servicePid = Number((await server.waitForLine(l => typeof l.pid === 'number')).pid)
  t.teardown(() => { if (isRunning(servicePid)) process.kill(servicePid, 'SIGKILL') })
  t.not(servicePid, server.child.pid, 'npm is not the service')

  server.child.kill('SIGTERM')
  t.match(await server.waitForLine(l => l.msg === 'shutting down'), { signal: 'SIGTERM' })
  await server.exited
  t.notOk(isRunning(servicePid), 'no service process outlives npm')
  t.equal(await tryConnect(Number(new URL(url).port)), 'ECONNREFUSED', 'the port is free')
})

t.test('SIGTERM to `npm run simulator` reaches the simulator too', async t => {
  const simulator = await spawnNpm('simulator', { SIMULATOR_PORT: '0' })
  t.teardown(() => { simulator.child.kill('SIGKILL') })
  const line = await simulator.waitForLine(l => l.msg === 'Kopo Kopo simulator listening')
  const pid = Number(line.pid)
  t.teardown(() => { if (isRunning(pid)) process.kill(pid, 'SIGKILL') })
  t.not(pid, simulator.child.pid, 'npm is not the simulator')
  simulator.child.kill('SIGTERM')
  await simulator.exited
  t.notOk(isRunning(pid), 'no simulator process outlives npm')
  t.equal(await tryConnect(Number(new URL(String(line.url)).port)), 'ECONNREFUSED', 'the port is free')
})

// Each flag changes how the service behaves under load; an operator who runs
// `node` some other way needs to know which ones, and why.
t.test('the README\'s Node flags table has one row per flag of `npm start`, and no other', async t => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('### Node flags'), readme.indexOf('### Container'))
  const rows = section.split('\n').filter(line => line.startsWith('| `--')).map(line => /^\| `([^`]+)`/.exec(line)?.[1])
  t.same(rows, START_FLAGS)
  const words = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven']
  t.match(section, `run Node with ${words[START_FLAGS.length] ?? START_FLAGS.length} V8 flags`, 'the count in words')
})
