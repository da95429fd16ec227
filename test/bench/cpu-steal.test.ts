import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { cpuPlan } from '../../bench/cpu-pin.js'
import { parseProcStat, readCpuTicks, stealByPlan, stealPercent } from '../../bench/cpu-steal.js'

// The miss path reports how much of each run the hypervisor took from the
// server's CPU and the harness's (bench/cpu-steal.ts), from /proc/stat.

// user nice system idle iowait irq softirq steal guest guest_nice
const BEFORE = `cpu  6439692 3657 1537590 5212440 13810 0 700074 7181 0 0
cpu0 3155443 1807 715905 2767194 1796 0 346628 3626 0 0
cpu1 3284249 1849 821684 2445246 12014 0 353445 3554 50 0
intr 173072722 0 0 0
ctxt 123
`
const AFTER = `cpu  6440492 3657 1537790 5213040 13810 0 700174 7281 0 0
cpu0 3155843 1807 716005 2767594 1796 0 346678 3676 0 0
cpu1 3284649 1849 821784 2445646 12014 0 353495 3604 90 0
intr 173072999 0 0 0
`

t.test('per-CPU ticks from /proc/stat, guest time not counted twice', async t => {
  const cpus = parseProcStat(BEFORE)
  t.same([...cpus.keys()], [0, 1], 'the summed line and the other counters are left out')
  t.same(cpus.get(0), { total: 3155443 + 1807 + 715905 + 2767194 + 1796 + 0 + 346628 + 3626, steal: 3626 })
  t.same(cpus.get(1), { total: 3284249 + 1849 + 821684 + 2445246 + 12014 + 0 + 353445 + 3554, steal: 3554 })
  t.same([...parseProcStat('cpu0 1 2 3\ncpu1 1 2 3 4 5 6 7 x\n').keys()], [], 'a line too short or not numeric is skipped')
})

t.test('the stolen share of some CPUs between two snapshots', async t => {
  const [before, after] = [parseProcStat(BEFORE), parseProcStat(AFTER)]
  // cpu0: 1,000 ticks passed, 50 stolen; cpu1: 1,000 passed, 50 stolen.
  t.equal(stealPercent(before, after, [0]), 5)
  t.equal(stealPercent(before, after, [0, 1]), 5)
  const more = parseProcStat(AFTER.replace('346678 3676', '346678 3826').replace('cpu0 3155843', 'cpu0 3155693'))
  t.equal(stealPercent(before, more, [0]), 20, '200 of 1,000')
  t.equal(stealPercent(before, after, [2]), undefined, 'a CPU not in the snapshots')
  t.equal(stealPercent(undefined, after, [0]), undefined, 'no snapshot')
  t.equal(stealPercent(before, before, [0]), undefined, 'no time passed')
  t.equal(stealPercent(before, after, []), undefined, 'no CPUs')
})

t.test('snapshots read from a file; none where there is no such file', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'k2-bff-stat-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(join(dir, 'stat'), BEFORE)
  t.same(await readCpuTicks(join(dir, 'stat')), parseProcStat(BEFORE))
  t.equal(await readCpuTicks(join(dir, 'missing')), undefined)
  const here = await readCpuTicks()
  t.ok(here !== undefined && here.size > 0 && [...here.values()].every(c => c.total > 0), "this machine's CPUs, as the benchmark reads them")
})

t.test('which CPUs a run reports: the plan decides', async t => {
  const [before, after] = [parseProcStat(BEFORE), parseProcStat(AFTER.replace('346678 3676', '346678 3826').replace('cpu0 3155843', 'cpu0 3155693'))]
  // cpu0: 200 of 1,000 ticks stolen; cpu1: 50 of 1,000.
  t.same(stealByPlan(cpuPlan('0-1'))(before, after), { server: 20, harness: 5 }, 'the server on cpu0 alone, the harness on cpu1')
  t.same(stealByPlan({ reason: '--unpinned' })(before, after), { server: 12.5 }, 'unpinned: every CPU, as the server\'s')
  t.same(stealByPlan(cpuPlan('1-2'))(before, after), { server: 5, harness: undefined }, 'a CPU missing from the snapshots')
  t.same(stealByPlan({ reason: '--unpinned' })(undefined, after), { server: undefined }, 'no snapshot before')
})
