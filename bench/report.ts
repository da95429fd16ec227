import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'

/** One line of the printed table. `pass` is null for figures given for context only. */
export interface Row {
  scenario: string
  measured: string
  target: string
  pass: boolean | null
}

export interface ScenarioResult {
  rows: Row[]
  /** Everything measured, for the JSON file. */
  data: Record<string, unknown>
  notes?: string[]
}

export function machineInfo () {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    totalMemoryMiB: Math.round(os.totalmem() / MiB),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    /** 1-minute load average when the run started: other work on the machine skews every figure. */
    loadAverage: Math.round(os.loadavg()[0]! * 100) / 100
  }
}

export const MiB = 1024 * 1024

/** A count or rate with thousands separators. */
export function fmt (value: number): string {
  return Math.round(value).toLocaleString('en-US')
}

const VERDICT = { true: 'PASS', false: 'FAIL', null: 'info' } as const

export function formatTable (rows: Row[]): string {
  const cells = [['scenario', 'measured', 'target', 'result'],
    ...rows.map(r => [r.scenario, r.measured, r.target, VERDICT[`${r.pass}`]])]
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map(row => row[i]!.length)))
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ').trimEnd()
  const rule = widths.map(w => '-'.repeat(w)).join('-|-')
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join('\n')
}

export async function writeJson (file: URL, report: unknown): Promise<void> {
  await mkdir(new URL('.', file), { recursive: true })
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`)
}
