import t from 'tap'
import { CallTimes } from '../../src/kopokopo/call-times.js'

t.test('nothing known before the first answer', async t => {
  const times = new CallTimes()
  t.equal(times.medianMs(), 0)
})

t.test('the median of the last five ignores a stall', async t => {
  const times = new CallTimes()
  times.record(50)
  t.equal(times.medianMs(), 50, 'the first answer is the median')
  times.record(3050)
  t.equal(times.medianMs(), 50, 'of an even count, the lower middle one')
  times.record(70)
  t.equal(times.medianMs(), 70)
  times.record(3000)
  times.record(60)
  t.equal(times.medianMs(), 70, 'two stalls among five')
})

t.test('the median keeps the last five answers only: Kopo Kopo turning slow, or fast again, counts within three', async t => {
  const times = new CallTimes()
  for (let i = 0; i < 16; i++) times.record(50)
  times.record(1500)
  times.record(1500)
  t.equal(times.medianMs(), 50)
  times.record(1500)
  t.equal(times.medianMs(), 1500, 'three slow answers of five')
  times.record(20)
  times.record(30)
  t.equal(times.medianMs(), 1500)
  times.record(40)
  t.equal(times.medianMs(), 40, 'three fast ones: the 50 ms answers long gone')
})
