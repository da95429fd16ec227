import t from 'tap'
import { request } from 'undici'
import { startTestSimulator } from './helper.js'

const INVALID = { error_code: 401, error_message: 'Invalid access token' }

t.test('resource calls without a valid bearer token answer 401', async (t) => {
  const { sim, get, post, token, advance } = await startTestSimulator(t, { tokenTtlSeconds: 10 })
  const path = `/api/v2/payment_links/${sim.ids.active}`

  const missing = await get(path)
  t.equal(missing.statusCode, 401, 'no Authorization header')
  t.equal(missing.headers['www-authenticate'], 'Bearer')
  t.strictSame(missing.json, INVALID)

  const unknown = await get(path, 'not-a-token')
  t.equal(unknown.statusCode, 401, 'unknown token')
  t.equal(unknown.headers['www-authenticate'], 'Bearer error="invalid_token"')
  t.strictSame(unknown.json, INVALID)

  const access = await token()
  const basic = await request(`${sim.url}${path}`, { headers: { authorization: `Basic ${access}` } })
  t.equal(basic.statusCode, 401, 'a token under another scheme')
  t.strictSame(await basic.body.json(), INVALID)

  advance(10_000)
  const expired = await get(path, access)
  t.equal(expired.statusCode, 401, 'expired token')
  t.equal(expired.headers['www-authenticate'], 'Bearer error="invalid_token"')
  t.strictSame(expired.json, { error_code: 401, error_message: 'Expired access token' })

  for (const [name, res] of [
    ['create', await post('/api/v2/payment_links', {})],
    ['cancel', await post(`/api/v2/payment_links/${sim.ids.active}/cancel`, undefined)]
  ] as const) {
    t.equal(res.statusCode, 401, `${name} needs a token`)
    t.strictSame(res.json, INVALID)
  }
})

t.test('the scheme name is case-insensitive, as RFC 7235 says', async (t) => {
  const { sim, token } = await startTestSimulator(t)
  const res = await request(`${sim.url}/api/v2/payment_links/${sim.ids.active}`, {
    headers: { authorization: `bearer ${await token()}` }
  })
  t.equal(res.statusCode, 200)
  await res.body.dump()
})

t.test('a token from another simulator is unknown here', async (t) => {
  const first = await startTestSimulator(t)
  const second = await startTestSimulator(t)
  const res = await second.get(`/api/v2/payment_links/${second.sim.ids.active}`, await first.token())
  t.equal(res.statusCode, 401)
  t.strictSame(res.json, INVALID)
})
