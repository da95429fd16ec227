import { connect } from 'node:net'
import t from 'tap'
import { listeningUrl, spawnNpmStart } from '../helpers/process.js'

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
  const server = await spawnNpmStart({ PORT: '0', METRICS_PORT: '0' })
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
