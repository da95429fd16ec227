import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { listeningUrl, spawnServer } from '../helpers/process.js'

const NOBODY = { uid: 65534, gid: 65534 }

// Node 20's own reader took a .env it may not read for no file at all, so the
// service started without it (on the simulator, outside production).
t.test('a .env that is there but cannot be read stops start-up with one line naming it', async t => {
  const cases: Array<[string, (path: string) => Promise<unknown>, RegExp]> = [
    ['a directory', async path => { await mkdir(path) }, /it is a directory/],
    ['a link to nothing', async path => { await symlink('missing.env', path) }, /it is a symbolic link to nothing/],
    ['a file it may not read', async path => { await writeFile(path, 'PORT=0\n', { mode: 0o000 }) }, /permission denied \(EACCES\)/]
  ]
  for (const [what, make, why] of cases) {
    await t.test(what, async t => {
      const dir = await mkdtemp(join(tmpdir(), 'k2-bff-env-'))
      t.teardown(() => rm(dir, { recursive: true, force: true }))
      await make(join(dir, '.env'))
      // Permissions do not hold root back: as root, the service runs as nobody.
      await chmod(dir, 0o755)
      const user = process.getuid?.() === 0 ? NOBODY : undefined
      const server = await spawnServer({ PORT: '0', METRICS_PORT: '0' }, dir, user)
      t.teardown(() => { server.child.kill('SIGKILL') })
      const started = listeningUrl(server).then(() => 'started without it', () => 'exited')
      t.equal(await Promise.race([server.exited, started]), 1)
      const output = server.output()
      t.match(output, /^Cannot read \.env in the working directory: .*\n$/)
      t.match(output, why)
      t.equal(output.split('\n').length, 2, 'one line, no stack trace')
    })
  }
})

t.test('the largest CACHE_MAX_ENTRIES starts within npm start\'s heap ceiling', async t => {
  const server = await spawnServer({ PORT: '0', METRICS_PORT: '0', CACHE_MAX_ENTRIES: '1000000' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  const url = await listeningUrl(server)
  t.equal((await request(`${url}/health/live`)).statusCode, 200)
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
})
