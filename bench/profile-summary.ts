import { readFile } from 'node:fs/promises'

// Reads a V8 .cpuprofile (node --cpu-prof) and lists where the busy time went:
// by function (self and inclusive) and by package. Idle time is left out.

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface Share { name: string, percent: number }

export interface ProfileSummary {
  busyMs: number
  self: Share[]
  inclusive: Share[]
  packages: Share[]
}

const SKIP = new Set(['(idle)', '(root)'])

export async function summarizeProfile (file: string, top = 25): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)

  // Each sample's time is the delta to the next sample.
  const selfUs = new Map<number, number>()
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0))
  })

  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const packages = new Map<string, number>()
  let busy = 0
  for (const [id, us] of selfUs) {
    const node = byId.get(id)
    if (node === undefined || SKIP.has(node.callFrame.functionName)) continue
    busy += us
    add(self, label(node), us)
    add(packages, area(node.callFrame.url, node.callFrame.functionName), us)
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)
      if (frame === undefined || SKIP.has(frame.callFrame.functionName)) continue
      const key = label(frame)
      if (!seen.has(key)) add(inclusive, key, us)
      seen.add(key)
    }
  }
  const ranked = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, us]) => ({ name, percent: Math.round(1000 * us / busy) / 10 }))
  return { busyMs: Math.round(busy / 1000), self: ranked(self), inclusive: ranked(inclusive), packages: ranked(packages) }
}

function add (map: Map<string, number>, key: string, us: number): void {
  map.set(key, (map.get(key) ?? 0) + us)
}

function label ({ callFrame: { functionName, url, lineNumber } }: ProfileNode): string {
  const where = url === '' ? '' : ` ${shortUrl(url)}:${lineNumber + 1}`
  return `${functionName === '' ? '(anonymous)' : functionName}${where}`
}

function shortUrl (url: string): string {
  const modules = url.lastIndexOf('/node_modules/')
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length)
  const ours = /\/dist-bench\/(.*)$/.exec(url)
  return ours?.[1] ?? url
}

function area (url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  if (url.startsWith('node:')) return 'node core'
  const modules = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url.slice(url.lastIndexOf('/node_modules/')))
  if (modules !== null) return modules[1]!
  return /\/dist-bench\/([^/]+(?:\/[^/]+)?)\//.exec(url)?.[1] ?? url
}
