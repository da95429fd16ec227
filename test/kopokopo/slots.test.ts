import { performance } from 'node:perf_hooks'
import t from 'tap'
import { Deadline } from '../../src/kopokopo/deadline.js'
import { Slots } from '../../src/kopokopo/slots.js'
import type { Teardown } from '../helpers/app.js'

// A deadline whose end the test decides: its abort, as its timer would emit it.
function deadline (t: Teardown): Deadline & { end: () => void } {
  const made = new Deadline(60_000)
  t.teardown(() => made.release())
  return Object.assign(made, {
    end: () => {
      made.events.aborted = true
      made.events.emit('abort')
    }
  })
}

const timeout = (): Error => new Error('timed out')

t.test('slots are taken at once while free; then calls wait, and are handed freed slots in turn', async t => {
  const slots = new Slots(2)
  t.equal(slots.take(deadline(t), timeout), undefined)
  t.equal(slots.take(deadline(t), timeout), undefined)
  const order: string[] = []
  const waits = ['a', 'b', 'c'].map(name => slots.take(deadline(t), timeout)?.then(() => { order.push(name) }))
  t.ok(waits.every(wait => wait instanceof Promise), 'all three wait')
  t.equal(slots.waiting, 3)
  slots.release()
  await waits[0]
  t.strictSame(order, ['a'], 'one freed slot, one call handed it')
  slots.release()
  slots.release()
  await Promise.all(waits)
  t.strictSame(order, ['a', 'b', 'c'], 'in the order they came')
  t.equal(slots.waiting, 0)
  slots.release()
  slots.release()
  t.equal(slots.take(deadline(t), timeout), undefined, 'released slots are free again')
})

t.test('the expected wait for a slot: the next one due after the last taken, then one spacing for each counted call ahead', async t => {
  const slots = new Slots(2)
  const at = (ms: number) => performance.now() + ms
  t.equal(slots.expectedWaitMs(100, at(0)), 0, 'a slot is free')
  t.equal(slots.take(deadline(t), timeout), undefined)
  t.equal(slots.take(deadline(t), timeout), undefined)
  t.equal(slots.queuedMs(at(1000)), 0, 'none waits')
  // Each 'just now' less by however long the test has taken since: a loaded machine can stall it for a while.
  const within = (ms: number, expected: number) => ms <= expected && ms > expected - 25
  t.ok(within(slots.expectedWaitMs(100, at(0)), 50), 'two slots taken just now: the next due 50 ms on')
  t.equal(slots.expectedWaitMs(100, at(1000)), 0, 'and long overdue: any moment')
  const waits = [true, true, false, true].map(counted => slots.take(deadline(t), timeout, counted))
  t.equal(slots.expectedWaitMs(100, at(1000)), 150, 'three of the four waiting counted: three spacings of 50 ms')
  t.ok(slots.queuedMs(at(1000)) >= 1000, 'waiting without a break since the first came')
  slots.release()
  await waits[0]
  t.ok(within(slots.expectedWaitMs(100, at(0)), 150), 'one handed a slot just now: the next 50 ms on, then two counted')
  for (let i = 0; i < 3; i++) slots.release()
  await Promise.all(waits.slice(1))
  t.equal(slots.queuedMs(at(1000)), 0, 'the queue is empty')
  const again = slots.take(deadline(t), timeout)
  t.ok(slots.queuedMs(at(50)) < 60, 'a new queue stands from when it formed')
  t.equal(slots.expectedWaitMs(100, at(1000)), 50, 'one counted ahead')
  for (let i = 0; i < 3; i++) slots.release()
  await again
})

t.test('a counted call that leaves at its deadline no longer counts', async t => {
  const slots = new Slots(1)
  t.equal(slots.take(deadline(t), timeout), undefined)
  const late = deadline(t)
  const gone = slots.take(late, timeout)
  t.equal(slots.expectedWaitMs(100, performance.now() + 1000), 100)
  late.end()
  await t.rejects(gone!, { message: 'timed out' })
  t.equal(slots.expectedWaitMs(100, performance.now() + 1000), 0)
  slots.release()
})

t.test('a call whose deadline runs out while it waits leaves with the timeout, and is passed over', async t => {
  const slots = new Slots(1)
  t.equal(slots.take(deadline(t), timeout), undefined)
  const late = deadline(t)
  const gone = slots.take(late, timeout)
  const next = slots.take(deadline(t), timeout)
  t.equal(slots.waiting, 2)
  late.end()
  await t.rejects(gone!, { message: 'timed out' })
  t.equal(slots.waiting, 1)
  t.equal(late.events.listenerCount('abort'), 0, 'no listener left on the deadline')
  slots.release()
  await t.resolves(next!, 'the slot goes to the next call still waiting')
  t.equal(slots.waiting, 0)
  slots.release()
  t.equal(slots.take(deadline(t), timeout), undefined)
})

t.test('a deadline already past waits for nothing', async t => {
  const slots = new Slots(1)
  t.equal(slots.take(deadline(t), timeout), undefined)
  const past = deadline(t)
  past.end()
  await t.rejects(slots.take(past, timeout)!, { message: 'timed out' })
  t.equal(slots.waiting, 0)
})

t.test('a long queue of calls that gave up is dropped as it is passed, and the order kept', async t => {
  const slots = new Slots(1)
  t.equal(slots.take(deadline(t), timeout), undefined)
  const ended = Array.from({ length: 3000 }, () => deadline(t))
  const gone = ended.map(d => slots.take(d, timeout)!.catch(() => 'gone'))
  const served: number[] = []
  const waits = [0, 1, 2].map(i => slots.take(deadline(t), timeout)!.then(() => { served.push(i) }))
  for (const d of ended) d.end()
  t.strictSame(new Set(await Promise.all(gone)), new Set(['gone']))
  t.equal(slots.waiting, 3)
  for (let i = 0; i < 3; i++) {
    slots.release()
    await waits[i]
  }
  t.strictSame(served, [0, 1, 2])
})
