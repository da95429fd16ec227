// First: see tick-shape.ts.
import './tick-shape.js'
import { isIP } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as delay } from 'node:timers/promises'
import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import pkg from '../package.json' with { type: 'json' }
import { buildApp } from './app.js'
import { ConfigError, loadConfig, MAX_TIMER_MS, type Config } from './config.js'
import { EnvFileError, loadEnvFile } from './env-file.js'
import { buildMetricsServer } from './metrics/server.js'
import { startSimulator, type Simulator } from './simulator/app.js'
import { SIMULATOR_CREDENTIALS } from './simulator/seed.js'

// The process: environment → config → app → listen → graceful close. The only
// file that touches process.* (with env-file.ts, shared with the simulator CLI).

function readConfig (): Config {
  try {
    loadEnvFile()
    return loadConfig(process.env)
  } catch (err) {
    if (!(err instanceof ConfigError) && !(err instanceof EnvFileError)) throw err
    process.stderr.write(`${err.message}\n`)
    process.exit(1)
  }
}

// Relative payment-page links then resolve against the simulator too, unless K2_LINK_BASE_URL says where.
function onSimulator (config: Config, simulator: Simulator): Config {
  return {
    ...config,
    upstream: { ...config.upstream, baseUrl: simulator.url, credentials: simulator.credentials }
  }
}

// How long past SHUTDOWN_TIMEOUT_MS closing may still take, once the
// connections are cut, before the process exits 1 regardless.
const SHUTDOWN_LAST_RESORT_MS = 2000

// What a listen failure says about the configuration, rather than a stack trace.
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'the port is already in use',
  EACCES: 'not allowed to listen there (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'the address is not one of this machine\'s',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved just now',
  EAFNOSUPPORT: 'this machine cannot listen on that kind of address',
  // A host name too long to look up, or an IPv6 link-local address without its zone (or with a wrong one).
  EINVAL: 'the address or host name is not one that can be listened on'
}

async function listenOrExit ([hostVariable, portVariable]: [string, string], { host, port }: { host: string, port: number },
  listen: () => Promise<string>): Promise<string> {
  try {
    return await listen()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    // Any error of the system's (a code such as EINVAL) is the address's fault, and said as such.
    if (typeof code !== 'string' || !/^E[A-Z_]+$/.test(code)) throw err
    const why = LISTEN_ERRORS[code] ?? 'the system refused it'
    // The values too: the variables may come from the environment, a .env or the image.
    const address = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`
    process.stderr.write(`Cannot listen on ${hostVariable}/${portVariable} (${address}): ${why} (${code}).\n`)
    process.exit(1)
  }
}

async function main (): Promise<void> {
  let config = readConfig()
  const simulator = config.upstream.mode === 'simulator'
    ? await startSimulator({ ...SIMULATOR_CREDENTIALS, host: '127.0.0.1', port: 0 })
    : null
  if (simulator !== null) config = onSimulator(config, simulator)

  // Log lines are written synchronously, as Node writes its own stdout to a
  // pipe. pino's default buffers them and, at exit, flushes what is left in a
  // loop that never ends once the pipe's reader has gone (a log shipper that
  // died, `npm start | head`): the process then ignored even a second signal.
  const app = await buildApp(config, { logStream: pino.destination({ dest: 1, sync: true }) })
  if (simulator !== null) app.addHook('onClose', async () => { await simulator.close() })
  const metricsServer = config.metrics.port > 0 ? buildMetricsServer(app.metrics.registry) : null

  // First SIGTERM/SIGINT: readiness turns 503 while requests are still served
  // for SHUTDOWN_DRAIN_DELAY_MS, then the listener stops accepting, in-flight
  // requests finish (bounded by SHUTDOWN_TIMEOUT_MS, past which the connections
  // still open are cut, with a warning), the upstream pool closes, exit 0. A
  // second signal exits at once; so does close-with-grace, with 1, should
  // closing hang even after the cut. Each way out says so in the log, last:
  // a process that just vanished leaves its reader guessing.
  const drainDelayMs = config.shutdownDrainDelayMs
  const { shutdownTimeoutMs } = config
  const lastResortMs = Math.min(drainDelayMs + shutdownTimeoutMs + SHUTDOWN_LAST_RESORT_MS, MAX_TIMER_MS)
  closeWithGrace({
    delay: lastResortMs,
    logger: false,
    onTimeout: () => { app.log.error({ lastResortMs }, 'shutdown still not done after cutting the connections: exiting 1') },
    onSecondSignal: (signal) => { app.log.warn({ signal }, 'second signal during shutdown: exiting 1 at once') }
  }, async ({ signal, err }) => {
    const started = performance.now()
    if (err !== undefined) app.log.error({ err }, 'shutting down after an unexpected error')
    else app.log.info({ signal, drainDelayMs }, 'shutting down')
    // After a crash there is nothing worth draining for.
    if (err === undefined && drainDelayMs > 0) {
      app.startDraining()
      await delay(drainDelayMs)
    }
    await metricsServer?.close()
    // A request still waiting, or a client that stopped reading its answer,
    // would otherwise hold close() until the process is killed, silently.
    const cut = setTimeout(() => {
      app.server.getConnections((_err, connections) => {
        app.log.warn({ connections, shutdownTimeoutMs }, 'SHUTDOWN_TIMEOUT_MS has passed: closing the connections still open')
        app.cutConnections().catch((err: unknown) => { app.log.error({ err }, 'cutting the connections failed') })
      })
    }, shutdownTimeoutMs)
    await app.close()
    clearTimeout(cut)
    // close-with-grace exits as soon as this returns: 1 after an error, else 0.
    app.log.info({ exitCode: err === undefined ? 0 : 1, durationMs: Math.round(performance.now() - started) }, 'shut down')
  })

  // What is running against what, for a reader of the logs: the origin only
  // (config keeps no path or userinfo of K2_BASE_URL), never the credentials.
  app.log.info({ version: pkg.version, node: process.version, upstream: config.upstream.mode, k2Origin: config.upstream.baseUrl },
    'starting')
  const address = await listenOrExit(['HOST', 'PORT'], config, () => app.listen({ host: config.host, port: config.port }))
  if (metricsServer !== null) {
    const metricsAddress = await listenOrExit(['METRICS_HOST', 'METRICS_PORT'], config.metrics,
      () => metricsServer.listen({ host: config.metrics.host, port: config.metrics.port }))
    app.log.info({ metrics: `${metricsAddress}/metrics` }, 'metrics listening')
  }
  if (simulator !== null) {
    app.log.warn({ seededIds: simulator.ids, docs: `${address}/docs`, upstream: simulator.url },
      'NO KOPO KOPO CREDENTIALS SET: serving the built-in Kopo Kopo simulator with seeded payment links')
  }
}

await main()
