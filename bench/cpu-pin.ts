import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'

// Where the miss path's processes run. In production the service has its
// CPU to itself: its callers and Kopo Kopo run elsewhere. On a benchmark
// machine the load generator (this process) and the test upstream run beside
// it, and left to the scheduler they take the service's core whenever both
// want one. At "half" the service's capacity it was busy 57-75% of the time
// (a miss costs more CPU when requests come spread out than when they queue),
// so it was the side that waited, and its p99 "added" counted the harness's
// own work (bench/README.md). The server under test therefore gets the first
// CPU alone, and the harness the others. Linux only: Node cannot set an
// affinity, so this asks util-linux's taskset, and runs unpinned without it.

const run = promisify(execFile)

export interface CpuPlan {
  /** The CPU the server under test runs on, alone. */
  server: string
  /** The CPUs the load generator and the test upstream share. */
  harness: string
  /** Every CPU this process may use, given back when the scenario ends. */
  all: string
}

/** Why there is no plan: the processes then share every CPU. */
export interface Unpinned {
  reason: string
}

/** The CPU numbers of a Linux CPU list such as "0-3,6". */
export function parseCpuList (list: string): number[] {
  const cpus: number[] = []
  for (const part of list.trim().split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part)
    if (match === null) throw new Error(`not a CPU list: "${list}"`)
    const first = Number(match[1])
    const last = Number(match[2] ?? match[1])
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu)
  }
  return cpus
}

/** The CPU list a process or thread may run on, from its /proc status file's text. */
export function allowedCpuList (status: string): string | undefined {
  return /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1]
}

/** The plan for the CPUs in `allowedList` (this process's Cpus_allowed_list). */
export function cpuPlan (allowedList: string): CpuPlan | Unpinned {
  const cpus = parseCpuList(allowedList)
  if (cpus.length < 2) return { reason: `one CPU (${allowedList.trim()}) for every process` }
  return { server: String(cpus[0]), harness: cpus.slice(1).join(','), all: cpus.join(',') }
}

/** The plan for this machine, or why there is none. */
export async function planCpus (statusFile = '/proc/self/status', taskset = 'taskset'): Promise<CpuPlan | Unpinned> {
  let status: string
  try {
    status = await readFile(statusFile, 'utf8')
  } catch {
    return { reason: `no ${statusFile} (not Linux)` }
  }
  const allowed = allowedCpuList(status)
  if (allowed === undefined) return { reason: `no Cpus_allowed_list in ${statusFile}` }
  try {
    await run(taskset, ['--version'])
  } catch {
    return { reason: `no ${taskset} command (util-linux)` }
  }
  return cpuPlan(allowed)
}

/** Pins every thread of process `pid` to `cpus` (a CPU list); threads it starts later inherit it. */
export async function pin (pid: number, cpus: string): Promise<void> {
  await run('taskset', ['--all-tasks', '--cpu-list', '--pid', cpus, String(pid)])
}

export function describePlan (plan: CpuPlan | Unpinned): string {
  return 'reason' in plan
    ? `shared by every process (not pinned: ${plan.reason})`
    : `the server under test alone on CPU ${plan.server}; the load generator and the test upstream on CPU ${plan.harness}`
}
