import t from 'tap'
import { request } from 'undici'
import { SEED_IDS } from '../../src/simulator/seed.js'
import { startTestSimulator } from './helper.js'

const valid = {
  amount: 2500,
  currency: 'KES',
  till_number: 'K000000',
  payment_reference: 'SIM-TEST-0001',
  note: 'Test link',
  metadata: { order_id: 'SIM-ORDER-TEST-0001' },
  _links: { callback_url: 'https://example.com/test/callback' }
}
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'

t.test('creating a link answers 201 with a Location to GET it from', async (t) => {
  const { sim, post, get, token, advance } = await startTestSimulator(t)
  const access = await token()
  advance(60_000)
  const res = await post('/api/v2/payment_links', valid, access)

  t.equal(res.statusCode, 201)
  t.equal(res.text, '')
  t.equal(res.headers['content-length'], '0')
  const location = String(res.headers.location)
  t.match(location, new RegExp(`^${sim.url}/api/v2/payment_links/${UUID}$`))

  const id = location.slice(location.lastIndexOf('/') + 1)
  const created = await get(new URL(location).pathname, access)
  t.equal(created.statusCode, 200)
  const body = created.json as { data: { attributes: { payment_link: { link: string } } } }
  t.match(body.data.attributes.payment_link.link, new RegExp(`^/links/${UUID}$`))
  t.strictSame(body, {
    data: {
      id,
      type: 'payment_link',
      attributes: {
        status: 'Processed',
        created_at: '2026-03-02T09:01:00.000+03:00',
        till_name: 'Simulated Shop',
        till_number: 'K000000',
        payment_reference: 'SIM-TEST-0001',
        currency: 'KES',
        amount: '2500',
        note: 'Test link',
        payment_link: {
          payment_link_status: 'Active',
          expires_at: '2026-03-09T09:01:00.000+03:00',
          initiator_name: 'Simulated Initiator',
          link: body.data.attributes.payment_link.link
        },
        errors: null,
        metadata: { order_id: 'SIM-ORDER-TEST-0001' },
        _links: { callback_url: 'https://example.com/test/callback', self: location }
      }
    }
  })
})

t.test('optional fields may be left out; amounts may be numeric strings', async (t) => {
  const { post, get, token } = await startTestSimulator(t)
  const access = await token()
  const res = await post('/api/v2/payment_links', {
    amount: '99.50',
    currency: 'KES',
    till_number: 123456,
    _links: { callback_url: 'https://example.com/cb' }
  }, access)
  t.equal(res.statusCode, 201)
  const created = await get(new URL(String(res.headers.location)).pathname, access)
  t.match(created.json, {
    data: { attributes: { amount: '99.50', till_number: '123456', payment_reference: null, note: null, metadata: null } }
  })
})

t.test('an invalid create request answers 400 naming the problem', async (t) => {
  const { post, token } = await startTestSimulator(t)
  const access = await token()
  const { _links, till_number: _tillNumber, ...withoutRequired } = valid
  const cases: Array<[string, unknown, string]> = [
    ['zero amount', { ...valid, amount: 0 }, 'amount must be a positive number'],
    ['negative amount', { ...valid, amount: -5 }, 'amount must be a positive number'],
    ['all-zero string amount', { ...valid, amount: '0.00' }, 'amount must be a positive number'],
    ['non-numeric amount', { ...valid, amount: 'ten' }, 'amount must be a positive number'],
    ['other currency', { ...valid, currency: 'USD' }, 'currency must be KES'],
    ['no till number', { ...valid, till_number: undefined }, 'till_number is required'],
    ['empty till number', { ...valid, till_number: '' }, 'till_number is required'],
    ['no callback url', { ...valid, _links: {} }, '_links.callback_url is required'],
    ['no _links', { ...valid, _links: undefined }, '_links.callback_url is required'],
    ['six metadata pairs', { ...valid, metadata: { a: '1', b: '2', c: '3', d: '4', e: '5', f: '6' } }, 'metadata must be at most 5 key-value pairs of strings'],
    ['non-string note', { ...valid, note: 5 }, 'note must be a string'],
    ['non-string reference', { ...valid, payment_reference: 5 }, 'payment_reference must be a string'],
    ['first field in order wins', withoutRequired, 'till_number is required'],
    ['not an object', [valid], 'Request body must be a JSON object']
  ]
  for (const [name, body, message] of cases) {
    const res = await post('/api/v2/payment_links', body, access)
    t.equal(res.statusCode, 400, name)
    t.strictSame(res.json, { error_code: 400, error_message: message }, name)
  }
  const fiveMetadata = await post('/api/v2/payment_links', {
    ...valid, metadata: { a: '1', b: '2', c: '3', d: '4', e: '5' }
  }, access)
  t.equal(fiveMetadata.statusCode, 201, 'five metadata pairs are allowed')
})

t.test('a malformed JSON body answers 400 in the v2 error shape', async (t) => {
  const { sim, token } = await startTestSimulator(t)
  const res = await request(`${sim.url}/api/v2/payment_links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json' },
    body: '{"amount":'
  })
  t.equal(res.statusCode, 400)
  t.match(await res.body.json(), { error_code: 400, error_message: /JSON/ })
})

t.test('cancelling an active link makes it Cancelled', async (t) => {
  const { post, get, token } = await startTestSimulator(t)
  const access = await token()
  const res = await post(`/api/v2/payment_links/${SEED_IDS.active}/cancel`, undefined, access)
  t.equal(res.statusCode, 200)
  t.strictSame(res.json, { message: 'Payment link cancelled.' })

  const after = await get(`/api/v2/payment_links/${SEED_IDS.active}`, access)
  t.match(after.json, { data: { attributes: { status: 'Processed', payment_link: { payment_link_status: 'Cancelled' } } } })

  const again = await post(`/api/v2/payment_links/${SEED_IDS.active}/cancel`, undefined, access)
  t.equal(again.statusCode, 400)
  t.strictSame(again.json, { error_code: 400, error_message: 'Payment link cannot be cancelled: it is Cancelled.' })
})

t.test('a link that is not active cannot be cancelled', async (t) => {
  const { post, token } = await startTestSimulator(t)
  const access = await token()
  const cases: Array<[string, string]> = [
    [SEED_IDS.pending, 'Payment link cannot be cancelled: its status is Pending.'],
    [SEED_IDS.failed, 'Payment link cannot be cancelled: its status is Failed.'],
    [SEED_IDS.paid, 'Payment link cannot be cancelled: it is Paid.'],
    [SEED_IDS.expired, 'Payment link cannot be cancelled: it is Expired.'],
    [SEED_IDS.cancelled, 'Payment link cannot be cancelled: it is Cancelled.'],
    [SEED_IDS.activeButExpired, 'Payment link cannot be cancelled: it has expired.']
  ]
  for (const [id, message] of cases) {
    const res = await post(`/api/v2/payment_links/${id}/cancel`, undefined, access)
    t.equal(res.statusCode, 400, id)
    t.strictSame(res.json, { error_code: 400, error_message: message }, id)
  }
  const unknown = await post('/api/v2/payment_links/99999999-9999-4999-8999-999999999999/cancel', undefined, access)
  t.equal(unknown.statusCode, 404)
  t.strictSame(unknown.json, { error_code: 404, error_message: 'Payment link not found' })
})

t.test('a created link can be cancelled until it expires by the clock', async (t) => {
  const { post, token, advance } = await startTestSimulator(t, { tokenTtlSeconds: 30 * 24 * 3600 })
  const access = await token()
  const first = await post('/api/v2/payment_links', valid, access)
  const second = await post('/api/v2/payment_links', valid, access)
  const cancelPath = (res: typeof first) => `${new URL(String(res.headers.location)).pathname}/cancel`

  t.equal((await post(cancelPath(first), undefined, access)).statusCode, 200, 'cancelled while active')
  advance(7 * 24 * 3600 * 1000)
  const late = await post(cancelPath(second), undefined, access)
  t.equal(late.statusCode, 400, 'too late after seven days')
  t.strictSame(late.json, { error_code: 400, error_message: 'Payment link cannot be cancelled: it has expired.' })
})
