import t from 'tap'
import { CREDENTIALS, START, requestToken, startTestSimulator } from './helper.js'

const INVALID_CLIENT = {
  error: 'invalid_client',
  error_description: 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.'
}
const UNSUPPORTED_GRANT = {
  error: 'unsupported_grant_type',
  error_description: 'The authorization grant type is not supported by the authorization server.'
}
const form = {
  client_id: CREDENTIALS.clientId,
  client_secret: CREDENTIALS.clientSecret,
  grant_type: 'client_credentials'
}

t.test('a form-encoded client-credentials request gets a bearer token', async (t) => {
  const { sim } = await startTestSimulator(t, { tokenTtlSeconds: 1800 })
  const res = await requestToken(sim.url, form)

  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(res.headers.pragma, 'no-cache')
  const body = res.json as Record<string, unknown>
  t.strictSame(Object.keys(body), ['access_token', 'token_type', 'expires_in', 'created_at'])
  t.match(body.access_token, /^[A-Za-z0-9_-]{43,}$/)
  t.strictSame({ ...body, access_token: '' }, {
    access_token: '',
    token_type: 'Bearer',
    expires_in: 1800,
    created_at: START / 1000
  })
})

t.test('every token is new', async (t) => {
  const { sim } = await startTestSimulator(t)
  const first = await requestToken(sim.url, form)
  const second = await requestToken(sim.url, form)
  t.not((first.json as { access_token: string }).access_token, (second.json as { access_token: string }).access_token)
})

t.test('a JSON token request is accepted too', async (t) => {
  const { post } = await startTestSimulator(t)
  const res = await post('/oauth/token', form)
  t.equal(res.statusCode, 200)
  t.match(res.json, { token_type: 'Bearer', expires_in: 3600, access_token: /^[A-Za-z0-9_-]{43,}$/ })
})

t.test('wrong or missing credentials answer 401 invalid_client', async (t) => {
  const { sim, post } = await startTestSimulator(t)
  const cases: Array<[string, Record<string, string>]> = [
    ['wrong secret', { ...form, client_secret: 'wrong' }],
    ['wrong id', { ...form, client_id: 'wrong' }],
    ['secret of the other field', { ...form, client_id: CREDENTIALS.clientSecret, client_secret: CREDENTIALS.clientId }],
    ['no credentials', { grant_type: 'client_credentials' }]
  ]
  for (const [name, fields] of cases) {
    const res = await requestToken(sim.url, fields)
    t.equal(res.statusCode, 401, name)
    t.strictSame(res.json, INVALID_CLIENT, name)
  }
  const json = await post('/oauth/token', { ...form, client_secret: 42 })
  t.equal(json.statusCode, 401, 'a non-string secret')
  t.strictSame(json.json, INVALID_CLIENT)
})

t.test('a grant other than client_credentials answers 400 unsupported_grant_type', async (t) => {
  const { sim, post } = await startTestSimulator(t)
  const password = await requestToken(sim.url, { ...form, grant_type: 'password' })
  t.equal(password.statusCode, 400)
  t.strictSame(password.json, UNSUPPORTED_GRANT)
  const missing = await requestToken(sim.url, { client_id: form.client_id, client_secret: form.client_secret })
  t.equal(missing.statusCode, 400)
  t.strictSame(missing.json, UNSUPPORTED_GRANT)
  const noBody = await post('/oauth/token', null)
  t.equal(noBody.statusCode, 400)
  t.strictSame(noBody.json, UNSUPPORTED_GRANT)
})

t.test('a token expires after its lifetime by the injected clock', async (t) => {
  const { token, get, advance, sim } = await startTestSimulator(t, { tokenTtlSeconds: 60 })
  const access = await token()
  const path = `/api/v2/payment_links/${sim.ids.active}`

  advance(59_999)
  t.equal((await get(path, access)).statusCode, 200, 'valid just before expiry')

  advance(1)
  const expired = await get(path, access)
  t.equal(expired.statusCode, 401, 'expired at expiry')
  t.strictSame(expired.json, { error_code: 401, error_message: 'Expired access token' })

  const fresh = await get(path, await token())
  t.equal(fresh.statusCode, 200, 'a new token works again')
})

t.test('token requests are counted, failed ones included', async (t) => {
  const { sim, token } = await startTestSimulator(t)
  t.equal(sim.stats.tokenRequests, 0)
  await token()
  await requestToken(sim.url, { ...form, client_secret: 'wrong' })
  t.strictSame(sim.stats, { tokenRequests: 2, statusRequests: 0 })
})
