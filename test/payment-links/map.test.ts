import t from 'tap'
import { DEFAULT_LINK_LIFETIME_MS, decimal, instantMs, linkExpiry } from '../../src/payment-links/map.js'

t.test('numbers are written in plain decimal digits, every digit kept', async t => {
  const cases: Array<[number, string]> = [
    [20000, '20000'],
    [1000.5, '1000.5'],
    [-0, '0'],
    [0.1 + 0.2, '0.30000000000000004'],
    [1e21, '1000000000000000000000'],
    [1.5e21, '1500000000000000000000'],
    [-1.25e22, '-12500000000000000000000'],
    [1e-7, '0.0000001'],
    [-1.5e-7, '-0.00000015'],
    [1.23456789e-15, '0.00000000000000123456789'],
    [5e-324, `0.${'0'.repeat(323)}5`],
    [Number.MAX_VALUE, `17976931348623157${'0'.repeat(292)}`]
  ]
  for (const [value, written] of cases) {
    t.equal(decimal(value), written, String(value))
    t.equal(Number(written), value, `${String(value)} reads back the same`)
  }
})

t.test('an instant is read only as an ISO 8601 date and time with an offset', async t => {
  t.equal(instantMs('2026-02-02T12:04:35.476+03:00'), Date.UTC(2026, 1, 2, 9, 4, 35, 476))
  t.equal(instantMs('2026-02-02T12:04:35Z'), Date.UTC(2026, 1, 2, 12, 4, 35))
  t.equal(instantMs('2026-02-02T12:04-01:30'), Date.UTC(2026, 1, 2, 13, 34))
  t.equal(instantMs('2028-02-29T00:00:00Z'), Date.UTC(2028, 1, 29), 'a leap day')
  t.ok(Number.isNaN(instantMs(null)), 'none')
  for (const text of ['', '2', 'June 10', '2026-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-13-01T00:00:00Z',
    '2026-02-02T24:00:00Z', '2026-02-02T12:60:00Z', '2026-02-02T12:04:35', '2026-02-02', '2026-02-02 12:04:35Z',
    '2026-02-02T12:04:35+0300', 'Mon, 02 Feb 2026 12:04:35 GMT', ' 2026-02-02T12:04:35Z']) {
    t.ok(Number.isNaN(instantMs(text)), JSON.stringify(text))
  }
})

t.test('a link expires at its expires_at, else 7 days after its creation', async t => {
  t.equal(DEFAULT_LINK_LIFETIME_MS, 604_800_000)
  t.equal(linkExpiry('2026-02-02T12:04:35.476+03:00', '2026-01-01T00:00:00Z'), Date.UTC(2026, 1, 2, 9, 4, 35, 476))
  t.equal(linkExpiry(null, '2026-01-26T12:04:35.444+03:00'), Date.UTC(2026, 1, 2, 9, 4, 35, 444))
  t.equal(linkExpiry('June 10', '2026-01-26T12:04:35.444+03:00'), Date.UTC(2026, 1, 2, 9, 4, 35, 444), 'one that cannot be read is none')
  t.ok(Number.isNaN(linkExpiry(null, '26 January 2026')), 'nor can the default be told from a creation time that cannot be read')
})
