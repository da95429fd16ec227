import t from 'tap'
import { SEED_IDS } from '../../src/simulator/seed.js'
import { startTestSimulator } from './helper.js'

// START is 2026-03-02 09:00:00.000 Nairobi time; seeds are placed around it.

t.test('the active seed has exactly the documented shape', async (t) => {
  const { sim, get, token } = await startTestSimulator(t)
  const res = await get(`/api/v2/payment_links/${SEED_IDS.active}`, await token())
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  t.strictSame(res.json, {
    data: {
      id: '22222222-2222-4222-8222-222222222222',
      type: 'payment_link',
      attributes: {
        status: 'Processed',
        created_at: '2026-03-02T09:00:00.000+03:00',
        till_name: 'Simulated Shop',
        till_number: '000000',
        payment_reference: 'SIM-ACTIVE-0001',
        currency: 'KES',
        amount: '20000',
        note: 'Simulated active payment link',
        payment_link: {
          payment_link_status: 'Active',
          expires_at: '2026-03-09T09:00:00.000+03:00',
          initiator_name: 'Simulated Initiator',
          link: `${sim.url}/links/aaaaaaaa-2222-4222-8222-222222222222`
        },
        errors: null,
        metadata: { order_id: 'SIM-ORDER-ACTIVE-0001' },
        _links: {
          callback_url: 'https://example.com/simulator/callback',
          self: `${sim.url}/api/v2/payment_links/22222222-2222-4222-8222-222222222222`
        }
      }
    }
  })
  // Key order as in Kopo Kopo's document, for readers of raw answers.
  t.match(res.text, /^\{"data":\{"id":.*"attributes":\{"status":.*"payment_link":\{"payment_link_status":/)
})

t.test('the paid seed uses the callback-style status field', async (t) => {
  const { sim, get, token } = await startTestSimulator(t)
  const res = await get(`/api/v2/payment_links/${SEED_IDS.paid}`, await token())
  t.equal(res.statusCode, 200)
  t.strictSame(res.json, {
    data: {
      id: '33333333-3333-4333-8333-333333333333',
      type: 'payment_link',
      attributes: {
        status: 'Processed',
        created_at: '2026-03-02T07:00:00.000+03:00',
        till_name: 'Simulated Shop',
        till_number: '000000',
        payment_reference: 'SIM-PAID-0001',
        currency: 'KES',
        amount: '20000',
        note: 'Simulated paid payment link',
        payment_link: {
          status: 'Paid',
          expires_at: '2026-03-09T07:00:00.000+03:00',
          initiator_name: 'Simulated Initiator',
          link: '/links/aaaaaaaa-3333-4333-8333-333333333333'
        },
        errors: null,
        metadata: { order_id: 'SIM-ORDER-PAID-0001' },
        _links: {
          callback_url: 'https://example.com/simulator/callback',
          self: `${sim.url}/api/v2/payment_links/33333333-3333-4333-8333-333333333333`
        }
      }
    }
  })
})

t.test('the failed seed has a string error and no link', async (t) => {
  const { get, token } = await startTestSimulator(t)
  const res = await get(`/api/v2/payment_links/${SEED_IDS.failed}`, await token())
  t.equal(res.statusCode, 200)
  t.match(res.json, {
    data: {
      id: SEED_IDS.failed,
      attributes: {
        status: 'Failed',
        created_at: '2026-03-02T08:50:00.000+03:00',
        payment_reference: 'SIM-FAILED-0001',
        amount: '20000',
        payment_link: null,
        errors: 'Till is not active'
      }
    }
  })
})

t.test('each seed shows its state and shape variant', async (t) => {
  const { get, token } = await startTestSimulator(t)
  const access = await token()
  const expected = {
    pending: { status: 'Pending', amount: 1500.5, created: '2026-03-02T08:55:00.000+03:00', lifecycle: { payment_link_status: 'Active', expires_at: '2026-03-09T08:55:00.000+03:00', link: '/links/aaaaaaaa-1111-4111-8111-111111111111' } },
    expired: { status: 'Processed', amount: '20000', created: '2026-02-20T09:00:00.000+03:00', lifecycle: { payment_link_status: 'Expired', expires_at: '2026-02-27T09:00:00.000+03:00', link: '/links/aaaaaaaa-4444-4444-8444-444444444444' } },
    cancelled: { status: 'Processed', amount: 1000, created: '2026-03-01T09:00:00.000+03:00', lifecycle: { payment_link_status: 'Cancelled', expires_at: '2026-03-08T09:00:00.000+03:00', link: '/links/aaaaaaaa-5555-4555-8555-555555555555' } },
    activeButExpired: { status: 'Processed', amount: '20000', created: '2026-02-22T09:00:00.000+03:00', lifecycle: { payment_link_status: 'active', expires_at: '2026-03-01T09:00:00.000+03:00', link: '/links/aaaaaaaa-7777-4777-8777-777777777777' } }
  } as const
  for (const [name, want] of Object.entries(expected)) {
    const id = SEED_IDS[name as keyof typeof expected]
    const res = await get(`/api/v2/payment_links/${id}`, access)
    t.equal(res.statusCode, 200, name)
    const attributes = (res.json as { data: { attributes: Record<string, unknown> } }).data.attributes
    t.equal(attributes.status, want.status, `${name} status`)
    t.equal(attributes.amount, want.amount, `${name} amount`)
    t.equal(attributes.created_at, want.created, `${name} created_at`)
    t.strictSame(attributes.payment_link, { ...want.lifecycle, initiator_name: 'Simulated Initiator' }, `${name} payment_link`)
    t.equal(attributes.errors, null, `${name} errors`)
  }
})

t.test('ids match case-insensitively and answer with the canonical id', async (t) => {
  const { get, token } = await startTestSimulator(t)
  const res = await get(`/api/v2/payment_links/${SEED_IDS.active.toUpperCase()}`, await token())
  t.equal(res.statusCode, 200)
  t.equal((res.json as { data: { id: string } }).data.id, SEED_IDS.active)
})

t.test('an unknown id answers 404 in the v2 error shape', async (t) => {
  const { get, token } = await startTestSimulator(t)
  const res = await get('/api/v2/payment_links/99999999-9999-4999-8999-999999999999', await token())
  t.equal(res.statusCode, 404)
  t.strictSame(res.json, { error_code: 404, error_message: 'Payment link not found' })
})

t.test('any other route answers 404 in the v2 error shape', async (t) => {
  const { get, post } = await startTestSimulator(t)
  for (const res of [await get('/api/v1/payment_links'), await post('/oauth/revoke', {})]) {
    t.equal(res.statusCode, 404)
    t.strictSame(res.json, { error_code: 404, error_message: 'Not found' })
  }
})

t.test('status requests are counted, unauthorised ones included', async (t) => {
  const { sim, get, token } = await startTestSimulator(t)
  const access = await token()
  await get(`/api/v2/payment_links/${SEED_IDS.active}`, access)
  await get(`/api/v2/payment_links/${SEED_IDS.paid}`)
  await get('/api/v2/payment_links/unknown', access)
  t.strictSame(sim.stats, { tokenRequests: 1, statusRequests: 3 })
})
