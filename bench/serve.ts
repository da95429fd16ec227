// First, in every role: the floors are held to the service's nextTick (see
// src/tick-shape.ts), so a floor that happens to lose it cannot flatter the service.
import '../src/tick-shape.js'
import type { FastifyInstance } from 'fastify'
import type { ChildStats, Command, Reply, Role } from './children.js'
import { countGc } from './gc-count.js'

// A child process holding one server under load: the real service, a bare
// Fastify route, or the bench upstream. Driven over IPC by bench/children.ts;
// exits when told to close or when the parent goes away. Each role imports
// only what it runs, so a bare route does not carry the service's modules
// (tick-shape.ts aside, which imports nothing).

const HOST = '127.0.0.1'

let app: FastifyInstance | null = null
let closeServer = async (): Promise<void> => {}

// Counted from the start, so the parent can tell how many full GCs fell inside a run.
const gc = countGc()

async function start (role: Role): Promise<string> {
  switch (role.role) {
    case 'service': {
      const [{ buildApp }, { loadConfig }] = await Promise.all([import('../src/app.js'), import('../src/config.js')])
      app = await buildApp(loadConfig(role.env))
      closeServer = async () => { await app?.close() }
      return await app.listen({ host: HOST, port: 0 })
    }
    case 'bare': {
      // The floor the hit path is measured against: the same route shape and
      // the same bytes, with nothing else (same logger level as the service).
      const [{ default: Fastify }, { BENCH_LOG_LEVEL }] = await Promise.all([import('fastify'), import('./upstream.js')])
      const body = Buffer.from(role.body)
      const headers = role.headers ?? {}
      const bare = Fastify({ logger: { level: BENCH_LOG_LEVEL } })
      bare.get('/payment-links/:id', async (_request, reply) => reply.headers(headers).type(role.contentType).send(body))
      closeServer = async () => { await bare.close() }
      return await bare.listen({ host: HOST, port: 0 })
    }
    case 'proxy': {
      // The floor the miss path is measured against: a bare Fastify route
      // relaying each request to the upstream over a keep-alive undici Pool of
      // the service's default size, with no token, cache, mapping or checks.
      const [{ default: Fastify }, { Pool }, { BENCH_LOG_LEVEL, BENCH_TOKEN, STATUS_PATH }] =
        await Promise.all([import('fastify'), import('undici'), import('./upstream.js')])
      const pool = new Pool(role.upstreamUrl, { connections: 32 })
      const proxy = Fastify({ logger: { level: BENCH_LOG_LEVEL } })
      proxy.get<{ Params: { id: string } }>('/payment-links/:id', async (request, reply) => {
        const answer = await pool.request({
          method: 'GET', path: STATUS_PATH + request.params.id, headers: { authorization: `Bearer ${BENCH_TOKEN}` }
        })
        return reply.code(answer.statusCode).type('application/json').send(await answer.body.text())
      })
      closeServer = async () => {
        await proxy.close()
        await pool.close()
      }
      return await proxy.listen({ host: HOST, port: 0 })
    }
    case 'upstream': {
      const { startBenchUpstream } = await import('./upstream.js')
      const { url, server } = await startBenchUpstream()
      closeServer = async () => {
        server.closeAllConnections()
        await new Promise(resolve => server.close(resolve))
      }
      return url
    }
  }
}

function stats (): ChildStats {
  const memory = process.memoryUsage()
  const cpu = process.cpuUsage()
  return {
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    external: memory.external,
    cpuUs: cpu.user + cpu.system,
    userUs: cpu.user,
    gc: gc(),
    gcExposed: typeof globalThis.gc === 'function',
    ...(app === null ? {} : { cacheEntries: app.cache.size, cacheBytes: app.cache.bytes })
  }
}

async function handle (command: Command): Promise<unknown> {
  switch (command.role) {
    case 'stats': return stats()
    case 'gc':
      if (typeof globalThis.gc !== 'function') return false
      globalThis.gc()
      return true
    case 'close':
      await closeServer()
      // Exiting (rather than waiting for the loop to drain) also writes a --cpu-prof profile.
      process.exit(0)
      break
    default: return await start(command)
  }
}

process.on('message', ({ id, command }: { id: number, command: Command }) => {
  handle(command).then(
    value => { process.send?.({ id, ok: true, value } satisfies Reply) },
    (err: unknown) => { process.send?.({ id, ok: false, error: String((err as Error)?.stack ?? err) } satisfies Reply) }
  )
})
process.on('disconnect', () => process.exit(0))
