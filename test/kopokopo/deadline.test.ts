import { setTimeout as wait } from 'node:timers/promises'
import t from 'tap'
import { Deadline, withDeadline, within } from '../../src/kopokopo/deadline.js'

// Real timers on purpose: the deadline bounds real sockets. Timers fire in
// order of expiry, so a 1 ms deadline is always due before a 20 ms wait ends.

t.test('a deadline emits abort once when it runs out, with a TimeoutError', async t => {
  const deadline = new Deadline(1)
  let aborts = 0
  deadline.events.on('abort', () => { aborts++ })
  const earlySignal = deadline.signal
  t.equal(deadline.expired, false)
  t.equal(earlySignal.aborted, false)
  await wait(20)
  t.equal(deadline.expired, true)
  t.equal(aborts, 1)
  t.equal(deadline.remaining(), 0)
  t.equal(deadline.events.reason?.name, 'TimeoutError')
  t.equal(earlySignal.aborted, true, 'a signal taken before expiry aborts with it')
  t.equal(earlySignal.reason, deadline.events.reason)
  t.equal(deadline.signal, earlySignal, 'one signal per deadline')
})

t.test('a signal first taken after expiry is already aborted', async t => {
  const deadline = new Deadline(1)
  await wait(20)
  t.equal(deadline.signal.aborted, true)
  t.equal((deadline.signal.reason as Error).name, 'TimeoutError')
})

t.test('a released deadline never fires: its timer does not outlive the work', async t => {
  const deadline = new Deadline(1)
  deadline.release()
  await wait(20)
  t.equal(deadline.expired, false)
  t.equal(deadline.signal.aborted, false)
})

t.test('within() gives up when the deadline runs out, and not before', async t => {
  const deadline = new Deadline(1)
  // The deadline's timer is unref'd, as in the service: the wait keeps this process alive meanwhile.
  const [outcome] = await Promise.all([within(new Promise(() => {}), deadline, () => new Error('late')).catch((err: unknown) => err), wait(20)])
  t.equal((outcome as Error).message, 'late')
  t.equal(deadline.events.listenerCount('abort'), 0, 'no listener left behind')
  const roomy = new Deadline(60_000)
  t.equal(await within(Promise.resolve('done'), roomy, () => new Error('late')), 'done')
  t.equal(roomy.events.listenerCount('abort'), 0, 'no listener left behind')
  const failed = await within(Promise.reject(new Error('boom')), roomy, () => new Error('late')).catch((err: unknown) => err)
  t.equal((failed as Error).message, 'boom', 'a failure is passed on as it is')
  t.equal(roomy.events.listenerCount('abort'), 0, 'no listener left behind after a failure')
  roomy.release()
})

t.test('within() on a deadline already past leaves no failure unhandled', async t => {
  const deadline = new Deadline(1)
  await wait(20)
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  const work = Promise.reject(new Error('the work failed too'))
  const outcome = await within(work, deadline, () => new Error('late')).catch((err: unknown) => err)
  t.equal((outcome as Error).message, 'late')
  // Node reports an unhandled rejection once the microtasks have run.
  await wait(20)
  t.same(unhandled, [])
})

t.test('withDeadline() releases its deadline whether the work succeeds or throws', async t => {
  let kept!: Deadline
  t.equal(await withDeadline(1, async deadline => { kept = deadline; return 'done' }), 'done')
  let thrown!: Deadline
  const failure = await withDeadline(1, async deadline => { thrown = deadline; throw new Error('boom') }).catch((err: unknown) => err)
  t.equal((failure as Error).message, 'boom')
  await wait(20)
  t.equal(kept.expired, false, 'released after success')
  t.equal(thrown.expired, false, 'released after a throw')
})
