import t from 'tap'
import { buildSimulator } from '../../src/simulator/app.js'
import { SEED_IDS } from '../../src/simulator/seed.js'
import { createTokenStore } from '../../src/simulator/tokens.js'

t.test('buildSimulator gives an app that answers without listening', async (t) => {
  const app = buildSimulator({ clientId: 'inject-id', clientSecret: 'inject-secret', now: () => 0 })
  t.teardown(() => app.close())

  const token = await app.inject({
    method: 'POST',
    url: '/oauth/token',
    payload: 'client_id=inject-id&client_secret=inject-secret&grant_type=client_credentials',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }
  })
  t.equal(token.statusCode, 200)
  t.match(token.json(), { created_at: 0, expires_in: 3600 })

  const link = await app.inject({
    url: `/api/v2/payment_links/${SEED_IDS.active}`,
    headers: { authorization: `Bearer ${token.json<{ access_token: string }>().access_token}`, host: 'sim.test:4010' }
  })
  t.equal(link.statusCode, 200)
  t.match(link.json(), {
    data: {
      attributes: {
        created_at: '1970-01-01T03:00:00.000+03:00',
        payment_link: { link: 'http://sim.test:4010/links/aaaaaaaa-2222-4222-8222-222222222222' },
        _links: { self: `http://sim.test:4010/api/v2/payment_links/${SEED_IDS.active}` }
      }
    }
  })
  t.equal(app.server.listening, false)
})

t.test('the token store forgets its oldest tokens beyond 10,000', async (t) => {
  const store = createTokenStore(60, () => 0)
  const first = store.issue()
  const second = store.issue()
  for (let i = 0; i < 9_999; i++) store.issue()
  t.equal(store.check(first), 'unknown')
  t.equal(store.check(second), 'valid')
})
