import t from 'tap'
import { CallTimes } from '../../src/kopokopo/call-times.js'

t.test('nothing known before the first answer', async t => {
  const times = new CallTimes()
  t.equal(times.averageMs, 0)
  t.equal(times.medianMs(), 0)
})

t.test('the average follows about the last sixteen; the median of the last sixteen ignores a stall', async t => {
  const times = new CallTimes()
  times.record(50)
  t.equal(times.averageMs, 50, 'the first answer is the average')
  times.record(3050)
  t.equal(times.averageMs, 50 + 3000 / 16, 'a sixteenth of the difference')
  t.equal(times.medianMs(), 50, 'of an even count, the lower middle one')
  times.record(70)
  t.equal(times.medianMs(), 70)
})

t.test('the median keeps the last sixteen answers only', async t => {
  const times = new CallTimes()
  for (let i = 0; i < 16; i++) times.record(1000)
  t.equal(times.medianMs(), 1000)
  for (let i = 0; i < 8; i++) times.record(20)
  t.equal(times.medianMs(), 20, 'half of the last sixteen are 20 ms: the lower middle one')
  for (let i = 0; i < 8; i++) times.record(30)
  t.equal(times.medianMs(), 20, 'the 1,000 ms answers are gone')
  times.record(40)
  times.record(40)
  t.equal(times.medianMs(), 30, 'two of the 20s gone: six left, below eight of 30 and two of 40')
})
