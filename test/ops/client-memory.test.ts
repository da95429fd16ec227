import t from 'tap'
import { Agent, request } from 'undici'
import { serveAgainstFake } from '../helpers/process.js'

// With TRUST_PROXY=true a client writes its own X-Forwarded-For. Each budget's
// key was cut from that header value and, to V8, kept all of it alive: 10,000
// budgets (RATE_LIMIT_CLIENTS) of 15 KB headers ran the service, under npm
// start's heap ceiling, out of memory within seconds.
t.test('budgets keyed by what clients wrote in 15 KB X-Forwarded-For headers stay within the heap', { timeout: 120_000 }, async t => {
  const { server, url } = await serveAgainstFake(t, { TRUST_PROXY: 'true' })
  const agent = new Agent({ connections: 16 })
  t.teardown(() => agent.close())
  const padding = 'a'.repeat(15_000)
  const statuses = new Map<number, number>()
  for (let sent = 0; sent < 12_000 && server.child.exitCode === null; sent += 16) {
    await Promise.all(Array.from({ length: 16 }, async (_, i) => {
      // Distinct within the first 64 characters, which are all a key keeps.
      const res = await request(`${url}/payment-links/not-a-uuid`, {
        dispatcher: agent, headers: { 'x-forwarded-for': `${String(sent + i).padStart(8, '0')}${padding}` }
      })
      await res.body.dump()
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
    }))
  }
  t.strictSame([...statuses], [[400, 12_000]], 'every request answered, each client on a budget of its own')
  t.equal(server.child.exitCode, null, 'still running')
  t.notMatch(server.output(), /heap/i)
})
