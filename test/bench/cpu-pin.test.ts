import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { allowedCpuList, cpuPlan, describePlan, parseCpuList, pin, planCpus } from '../../bench/cpu-pin.js'

// The benchmark's miss path gives the server under test a CPU of its own
// (bench/cpu-pin.ts): what it plans from a CPU list, and that a pin reaches
// every thread of the process.

t.test('a Linux CPU list, ranges and single CPUs', async t => {
  t.same(parseCpuList('0-3,6\n'), [0, 1, 2, 3, 6])
  t.same(parseCpuList('5'), [5])
  t.throws(() => parseCpuList('0-1,x'), { message: 'not a CPU list: "0-1,x"' })
})

t.test('the server under test gets the first CPU, the harness the rest', async t => {
  t.same(cpuPlan('0-1'), { server: '0', harness: '1', all: '0,1' })
  t.same(cpuPlan('2,4-5'), { server: '2', harness: '4,5', all: '2,4,5' })
  t.same(cpuPlan('3'), { reason: 'one CPU (3) for every process' })
  t.equal(describePlan(cpuPlan('0-1')), 'the server under test alone on CPU 0; the load generator and the test upstream on CPU 1')
  t.equal(describePlan({ reason: '--unpinned' }), 'shared by every process (not pinned: --unpinned)')
})

t.test('the plan comes from the process status, and needs taskset', async t => {
  const dir = t.testdir({
    status: 'Name:\tnode\nCpus_allowed:\t7\nCpus_allowed_list:\t0-2\nMems_allowed_list:\t0\n',
    'no-list': 'Name:\tnode\n'
  })
  t.same(await planCpus(join(dir, 'status')), { server: '0', harness: '1,2', all: '0,1,2' })
  t.same(await planCpus(join(dir, 'missing')), { reason: `no ${join(dir, 'missing')} (not Linux)` })
  t.same(await planCpus(join(dir, 'no-list')), { reason: `no Cpus_allowed_list in ${join(dir, 'no-list')}` })
  t.same(await planCpus(join(dir, 'status'), 'no-such-taskset'), { reason: 'no no-such-taskset command (util-linux)' })
})

t.test('a pin reaches every thread of the process', async t => {
  const plan = await planCpus()
  if ('reason' in plan) throw new Error(`this test needs two CPUs and taskset: ${plan.reason}`)
  // Once it prints, node runs its worker threads as well as the main one.
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log("up")'], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill() })
  await once(child.stdout, 'data')
  const allowed = async () => await Promise.all((await readdir(`/proc/${child.pid}/task`)).map(async task =>
    allowedCpuList(await readFile(`/proc/${child.pid}/task/${task}/status`, 'utf8'))))

  await pin(child.pid!, plan.server)
  const threads = await allowed()
  t.ok(threads.length > 1, 'node runs several threads')
  t.same(new Set(threads), new Set([plan.server]), 'every thread on the server CPU')

  await pin(child.pid!, plan.all)
  t.same(new Set((await allowed()).map(list => parseCpuList(list!).join(','))), new Set([plan.all]), 'and back on all of them')
})
