import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
// The Node flags `npm start` gives the service, so the bench measures what operators run.
import { START_FLAGS } from '../test/helpers/start-flags.js'

// The parent's side of bench/serve.ts: every server under load runs in its own
// process, so it never shares an event loop (or a core) with autocannon.

export type Role =
  | { role: 'service', env: Record<string, string> }
  | { role: 'bare', body: string, contentType: string, headers?: Record<string, string> }
  | { role: 'proxy', upstreamUrl: string }
  | { role: 'upstream' }

export type Command = Role | { role: 'stats' } | { role: 'gc' } | { role: 'close' }

/** V8 collections since the child started, from Node's `gc` performance entries. */
export interface GcCounts {
  /** Mark-compact (full) collections: the ones that stall. */
  full: number
  /** Scavenges of the young generation. */
  minor: number
  /** Time spent in all of them, in ms. */
  pauseMs: number
}

export interface ChildStats {
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  /** process.cpuUsage() in µs since the child started: user + system. */
  cpuUs: number
  /** The user part of it. */
  userUs: number
  gc: GcCounts
  cacheEntries?: number
  cacheBytes?: number
  gcExposed: boolean
}

export type Reply = { id: number, ok: true, value: unknown } | { id: number, ok: false, error: string }

const SERVE = new URL('./serve.js', import.meta.url)
const CLOSE_TIMEOUT_MS = 10_000

export class Child {
  readonly #process: ChildProcess
  #url = ''
  #nextId = 0

  private constructor (process: ChildProcess) {
    this.#process = process
  }

  /** Forks serve.js, starts `role` in it and resolves once it listens on loopback. */
  static async start (role: Role, execArgv: string[] = []): Promise<Child> {
    const flags = role.role === 'service' ? [...START_FLAGS, ...execArgv] : execArgv
    const child = new Child(fork(SERVE, [], { execArgv: flags, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
    try {
      child.#url = await child.#ask(role) as string
    } catch (err) {
      child.#process.kill()
      throw err
    }
    return child
  }

  /** The child's process id, e.g. to pin it to a CPU. */
  get pid (): number {
    return this.#process.pid!
  }

  /** Where the child listens, e.g. http://127.0.0.1:40123. */
  get url (): string {
    return this.#url
  }

  async stats (): Promise<ChildStats> {
    return await this.#ask({ role: 'stats' }) as ChildStats
  }

  /** Runs a full GC in the child; false when it was not started with --expose-gc. */
  async gc (): Promise<boolean> {
    return await this.#ask({ role: 'gc' }) as boolean
  }

  /** Closes the server and waits for the process to exit (which writes a --cpu-prof profile). */
  async close (): Promise<void> {
    if (this.#process.exitCode !== null || this.#process.signalCode !== null) return
    const exited = once(this.#process, 'exit')
    this.#process.send({ id: -1, command: { role: 'close' } })
    const timer = setTimeout(() => this.#process.kill('SIGKILL'), CLOSE_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
  }

  async #ask (command: Command): Promise<unknown> {
    const id = this.#nextId++
    const child = this.#process
    return await new Promise((resolve, reject) => {
      const onMessage = (reply: Reply) => {
        if (reply.id !== id) return
        cleanup()
        if (reply.ok) resolve(reply.value)
        else reject(new Error(`bench child (${command.role}): ${reply.error}`))
      }
      const onExit = (code: number | null) => {
        cleanup()
        reject(new Error(`bench child (${command.role}) exited with ${code}`))
      }
      const cleanup = () => {
        child.off('message', onMessage)
        child.off('exit', onExit)
      }
      child.on('message', onMessage)
      child.on('exit', onExit)
      child.send({ id, command })
    })
  }
}
