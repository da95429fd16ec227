import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Child } from './children.js'
import { collapsing } from './collapse.js'
import { planCpus } from './cpu-pin.js'
import { hitPath } from './hit-path.js'
import { memory } from './memory.js'
import { missPath } from './miss-path.js'
import { summarizeProfile, type ProfileSummary } from './profile-summary.js'
import { formatTable, machineInfo, writeJson, type Row, type ScenarioResult } from './report.js'

// npm run bench [-- --only hit,collapse,miss,memory] [-- --profile] [-- --unpinned]
//
// Each figure is a comparison made within this run (service vs a bare route,
// service vs the upstream alone), because absolute numbers drift on shared
// machines. A missed target is reported, not an error: the exit code is 0
// unless a scenario could not run at all.
//
// `npm run bench` runs this process, the load generator, with
// --no-allocation-site-pretenuring. Without it, V8 took the collapsing
// scenario's burst of 1,000 requests in flight as a sign that the generator's
// per-request objects live long, allocated them in the old generation from
// then on, and ran a full GC about every 2 s through the miss scenario: each
// one held back the requests falling due, and the burst after it queued at the
// service. The miss rows count the generator's full GCs.

const RESULTS = new URL('../../bench/results/', import.meta.url)
const SCENARIOS = ['hit', 'collapse', 'miss', 'memory'] as const
type Scenario = typeof SCENARIOS[number]

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: SCENARIOS.join(',') },
    // Writes V8 CPU profiles of the hit- and miss-path children, and summarizes them.
    profile: { type: 'boolean', default: false },
    // Runs the miss path with every process on every CPU, as before bench/cpu-pin.ts.
    unpinned: { type: 'boolean', default: false }
  }
})
const selected = new Set(args.only.split(',').map(s => s.trim()))
const profileDir = fileURLToPath(new URL('profiles/', RESULTS))
const profileArgs = (name: string) => args.profile
  ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${name}.cpuprofile`]
  : []
const PROFILED = ['hit-service', 'hit-headers', 'hit-bare', 'miss-service', 'miss-relay']

async function main (): Promise<void> {
  const machine = machineInfo()
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.totalMemoryMiB} MiB, node ${machine.node}, ${machine.platform}`)
  console.log(`load average at start: ${machine.loadAverage}`)
  if (machine.loadAverage >= machine.cores) console.log('WARNING: the machine is busy with other work; figures will be noisy.')
  const started = Date.now()
  const upstream = await Child.start({ role: 'upstream' })
  const results: Partial<Record<Scenario, ScenarioResult | { error: string }>> = {}
  const scenarios: Record<Scenario, () => Promise<ScenarioResult>> = {
    hit: () => hitPath({ upstreamUrl: upstream.url, execArgv: profileArgs }),
    collapse: () => collapsing(),
    miss: async () => missPath({
      upstream,
      execArgv: profileArgs,
      cpus: args.unpinned ? { reason: '--unpinned' } : await planCpus()
    }),
    memory: () => memory({ upstreamUrl: upstream.url })
  }
  try {
    for (const name of SCENARIOS) {
      if (!selected.has(name)) continue
      console.log(`running ${name}...`)
      try {
        results[name] = await scenarios[name]()
      } catch (err) {
        console.error(`${name} could not run:`, err)
        results[name] = { error: String((err as Error)?.stack ?? err) }
        process.exitCode = 1
      }
    }
  } finally {
    await upstream.close()
  }

  const rows: Row[] = []
  for (const [name, result] of Object.entries(results)) {
    if ('error' in result) rows.push({ scenario: name, measured: 'could not run (see above)', target: '-', pass: false })
    else rows.push(...result.rows)
  }
  const profiles = args.profile ? await summarizeProfiles() : undefined
  const totalS = Math.round((Date.now() - started) / 1000)

  console.log(`\n${formatTable(rows)}\n`)
  for (const result of Object.values(results)) for (const note of ('notes' in result ? result.notes ?? [] : [])) console.log(`- ${note}`)
  const missed = rows.filter(r => r.pass === false).length
  console.log(missed === 0 ? '\nAll targets met.' : `\n${missed} target(s) MISSED (see FAIL rows above).`)
  const file = new URL('latest.json', RESULTS)
  await writeJson(file, { date: new Date().toISOString(), machine, totalS, rows, results, ...(profiles ? { profiles } : {}) })
  console.log(`wrote ${fileURLToPath(file)} (${totalS} s)`)
}

async function summarizeProfiles (): Promise<Record<string, ProfileSummary>> {
  const summaries: Record<string, ProfileSummary> = {}
  for (const name of PROFILED) {
    if (!selected.has(name.split('-')[0]!)) continue
    const summary = await summarizeProfile(`${profileDir}${name}.cpuprofile`)
    summaries[name] = summary
    console.log(`\nCPU profile of the ${name} child (${summary.busyMs} ms busy, idle excluded):`)
    const list = (title: string, shares: ProfileSummary['self'], n: number) => {
      console.log(`  ${title}:`)
      for (const { name, percent } of shares.slice(0, n)) console.log(`    ${percent.toFixed(1).padStart(5)}%  ${name}`)
    }
    list('by package (self)', summary.packages, 12)
    list('by function (self)', summary.self, 20)
    list('by function (inclusive)', summary.inclusive, 25)
  }
  return summaries
}

await main()
