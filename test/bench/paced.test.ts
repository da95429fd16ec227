import { createServer } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { PacedLoad } from '../../bench/paced.js'

// The benchmark's miss path is judged on PacedLoad.schedule: the lead-in's
// requests are sent and answered but not timed, and the loads on one schedule
// send the same requests. A loopback server counts what each load sends.

async function countingServer (t: Test) {
  const seen = new Map<string, number>()
  const authorization = new Map<string, Set<string | undefined>>()
  const server = createServer((request, response) => {
    const [, load = ''] = /^\/(\w+)\//.exec(request.url ?? '') ?? []
    seen.set(load, (seen.get(load) ?? 0) + 1)
    authorization.set(load, (authorization.get(load) ?? new Set()).add(request.headers.authorization))
    response.statusCode = load === 'failing' ? 503 : 200
    response.end('{}')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, authorization }
}

t.test('the lead-in is sent and answered but not timed, on one schedule for every load', async t => {
  const { url, seen, authorization } = await countingServer(t)
  let n = 0
  const loads = [
    await PacedLoad.open(url, 2, { path: () => `/ok/${n++}` }),
    await PacedLoad.open(url, 2, { path: () => `/failing/${n++}`, headers: { authorization: 'Bearer test' } })
  ]
  t.teardown(async () => { await Promise.all(loads.map(async load => await load.close())) })
  t.same(Object.fromEntries(seen), { ok: 2, failing: 2 }, 'open() warms each connection with one request')

  // 400 req/s: 20 requests of lead-in, then 20 timed.
  const schedule = PacedLoad.schedule(loads, { rate: 400, leadInS: 0.05, durationS: 0.05 })
  let settled = false
  schedule.results.then(() => { settled = true }, () => {})
  await schedule.timed
  t.notOk(settled, 'timed resolves when the timed requests start, before the answers are in')
  const [ok, failing] = await schedule.results

  t.same(Object.fromEntries(seen), { ok: 42, failing: 42 }, 'each load sent the lead-in and the timed requests')
  t.equal(ok!.requests, 20, 'only the timed requests are timed')
  t.equal(failing!.requests, 20)
  t.equal(ok!.non2xx, 0)
  t.equal(failing!.non2xx, 40, 'non-2xx answers are counted over the whole schedule, lead-in included')
  t.equal(ok!.errors, 0)
  t.same(authorization.get('failing'), new Set(['Bearer test']), 'every request carries its load\'s headers')
  t.same(authorization.get('ok'), new Set([undefined]))
})

t.test('without a lead-in every request is timed', async t => {
  const { url, seen } = await countingServer(t)
  let n = 0
  const load = await PacedLoad.open(url, 1, { path: () => `/ok/${n++}` })
  t.teardown(async () => { await load.close() })
  const [result] = await PacedLoad.schedule([load], { rate: 400, leadInS: 0, durationS: 0.025 }).results
  t.equal(result!.requests, 10)
  t.equal(seen.get('ok'), 11)
})
