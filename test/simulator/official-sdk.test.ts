import { createRequire } from 'node:module'
import t from 'tap'
import { SEED_IDS } from '../../src/simulator/seed.js'
import { startTestSimulator } from './helper.js'

// Kopo Kopo's official Node SDK, pointed at the simulator: if it can get a
// token and read a payment link, the simulator is close enough to the real
// thing. The SDK is CommonJS without types; this is the part of it we use.
interface K2 {
  TokenService: { getToken (): Promise<{ access_token: string, token_type: string, expires_in: number }> }
  PollingService: { getStatus (opts: { location: string, accessToken: string }): Promise<unknown> }
}
const K2Connect = createRequire(import.meta.url)('k2-connect-node') as (options: Record<string, string>) => K2

// What a promise rejected with: the SDK rejects with strings and plain objects.
async function rejection (promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => 'resolved', (reason: unknown) => reason)
}

function sdk (baseUrl: string, clientSecret = 'test-client-secret'): K2 {
  return K2Connect({ baseUrl, clientId: 'test-client-id', clientSecret, apiKey: 'sim-api-key-unused' })
}

t.test('the SDK gets a token and reads a seeded payment link', async (t) => {
  const { sim } = await startTestSimulator(t)
  const k2 = sdk(sim.url)

  const token = await k2.TokenService.getToken()
  t.match(token, { token_type: 'Bearer', expires_in: 3600, access_token: /^[A-Za-z0-9_-]{43,}$/ })

  // getStatus fetches whatever URL it is given, here the one Location names.
  const link = await k2.PollingService.getStatus({
    location: `${sim.url}/api/v2/payment_links/${SEED_IDS.paid}`,
    accessToken: token.access_token
  })
  t.match(link, {
    data: {
      id: SEED_IDS.paid,
      type: 'payment_link',
      attributes: { status: 'Processed', payment_link: { status: 'Paid' } }
    }
  })
  t.strictSame(sim.stats, { tokenRequests: 1, statusRequests: 1 })
})

t.test('the SDK sees 401s the way it sees them from Kopo Kopo', async (t) => {
  const { sim } = await startTestSimulator(t)
  // The SDK throws bare strings on 401, losing the body; that is its behaviour.
  t.equal(await rejection(sdk(sim.url, 'wrong-secret').TokenService.getToken()), 'Unauthorized')
  t.equal(await rejection(sdk(sim.url).PollingService.getStatus({
    location: `${sim.url}/api/v2/payment_links/${SEED_IDS.active}`,
    accessToken: 'not-a-token'
  })), 'Unauthorized')
})

t.test('the SDK gets the v2 error body for an unknown link', async (t) => {
  const { sim } = await startTestSimulator(t)
  const k2 = sdk(sim.url)
  const { access_token: accessToken } = await k2.TokenService.getToken()
  t.strictSame(await rejection(k2.PollingService.getStatus({
    location: `${sim.url}/api/v2/payment_links/99999999-9999-4999-8999-999999999999`,
    accessToken
  })), { error_code: 404, error_message: 'Payment link not found' })
})
