import t from 'tap'
import { InFlight } from '../../src/payment-links/in-flight.js'

t.test('a call still in flight is kept across the Map\'s renewals', async t => {
  const inFlight = new InFlight<number>()
  inFlight.set('slow', 1)
  // Far more removals than one renewal takes, around a call that stays in flight.
  const seen: Array<number | undefined> = []
  for (let i = 0; i < 1000; i++) {
    inFlight.set(`quick-${i}`, i)
    seen.push(inFlight.get(`quick-${i}`))
    inFlight.delete(`quick-${i}`)
  }
  t.same(seen, Array.from({ length: 1000 }, (_, i) => i), 'each quick call was found while in flight')
  t.equal(inFlight.get('slow'), 1, 'still shared with whoever asks for it')
  t.equal(inFlight.get('quick-999'), undefined, 'a finished call is gone')
  inFlight.delete('slow')
  t.equal(inFlight.get('slow'), undefined)
})
