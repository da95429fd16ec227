import t, { type Test } from 'tap'
import { PacedLoad } from '../../bench/paced.js'
import { FakeKopoKopo } from '../helpers/fake-kopokopo.js'

// The benchmark's miss path is judged on PacedLoad.schedule: the lead-in's
// requests are sent and answered but not timed, and the loads on one schedule
// send the same requests. The Kopo Kopo stand-in records what each load sends:
// one load asks for payment links (answered 200 here, whatever the token), the
// other for a path it does not serve (404).

const LINKS = '/api/v2/payment_links/'
const MISSING = '/missing/'

async function startFake (t: Test): Promise<FakeKopoKopo> {
  const fake = await new FakeKopoKopo().always('status', { status: 200, body: '{}' }).start()
  t.teardown(async () => { await fake.close() })
  return fake
}

const sent = (fake: FakeKopoKopo, prefix: string) => fake.requests.filter(r => r.path.startsWith(prefix))

t.test('the lead-in is sent and answered but not timed, on one schedule for every load', async t => {
  const fake = await startFake(t)
  let n = 0
  const loads = [
    await PacedLoad.open(fake.url, 2, { path: () => `${LINKS}${n++}` }),
    await PacedLoad.open(fake.url, 2, { path: () => `${MISSING}${n++}`, headers: { authorization: 'Bearer test' } })
  ]
  t.teardown(async () => { await Promise.all(loads.map(async load => await load.close())) })
  t.same([sent(fake, LINKS).length, sent(fake, MISSING).length], [2, 2], 'open() warms each connection with one request')

  // 400 req/s: 20 requests of lead-in, then 20 timed.
  const schedule = PacedLoad.schedule(loads, { rate: 400, leadInS: 0.05, durationS: 0.05 })
  let settled = false
  schedule.results.then(() => { settled = true }, () => {})
  await schedule.timed
  t.notOk(settled, 'timed resolves when the timed requests start, before the answers are in')
  const [ok, missing] = await schedule.results

  t.same([sent(fake, LINKS).length, sent(fake, MISSING).length], [42, 42], 'each load sent the lead-in and the timed requests')
  t.equal(ok!.requests, 20, 'only the timed requests are timed')
  t.equal(missing!.requests, 20)
  t.equal(ok!.non2xx, 0)
  t.equal(missing!.non2xx, 40, 'non-2xx answers are counted over the whole schedule, lead-in included')
  t.equal(ok!.errors, 0)
  const authorizations = (prefix: string) => new Set(sent(fake, prefix).map(r => r.headers.authorization))
  t.same(authorizations(MISSING), new Set(['Bearer test']), 'every request carries its load\'s headers')
  t.same(authorizations(LINKS), new Set([undefined]))
})

t.test('without a lead-in every request is timed', async t => {
  const fake = await startFake(t)
  let n = 0
  const load = await PacedLoad.open(fake.url, 1, { path: () => `${LINKS}${n++}` })
  t.teardown(async () => { await load.close() })
  const [result] = await PacedLoad.schedule([load], { rate: 400, leadInS: 0, durationS: 0.025 }).results
  t.equal(result!.requests, 10)
  t.equal(sent(fake, LINKS).length, 11)
})
