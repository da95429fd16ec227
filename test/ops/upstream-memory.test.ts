import t from 'tap'
import { Agent, request } from 'undici'
import { upstreamLink } from '../helpers/fake-kopokopo.js'
import { serveAgainstFake } from '../helpers/process.js'

// Within the byte cap, but a byte per chunk: kept as undici's chunks (each a
// view holding a socket read buffer), two such answers at once ran the
// service, under npm start's heap ceiling, out of memory.
t.test('answers sent a byte per chunk, several at once, stay within the heap', { timeout: 60_000 }, async t => {
  const { fake, server, url } = await serveAgainstFake(t, { UPSTREAM_TIMEOUT_MS: '30000' })
  fake.always('status', { chunkBytes: 1 })
  const ids = Array.from({ length: 4 }, (_, i) => `eeeeeeee-0000-4000-8000-${String(i).padStart(12, '0')}`)
  // Just under the 1 MiB cap, in a field the service does not read.
  for (const id of ids) fake.links.set(id, upstreamLink(id, { padding: 'p'.repeat(1_000_000) }))
  const agent = new Agent({ connections: 4 })
  t.teardown(() => agent.close())
  const answers = await Promise.all(ids.map(async id => {
    const res = await request(`${url}/payment-links/${id}`, { dispatcher: agent })
    return { status: res.statusCode, body: await res.body.text() }
  }))
  t.same(answers.map(a => a.status), [200, 200, 200, 200])
  t.same(answers.map(a => (JSON.parse(a.body) as { id: string }).id), ids)
  t.equal(fake.calls('status').length, 4)
  t.equal(server.child.exitCode, null, 'still running')
  t.notMatch(server.output(), /heap/i)
})
