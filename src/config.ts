import { isIP } from 'node:net'
import Type, { type Static } from 'typebox'
import Value from 'typebox/value'
import { FILE_VARIABLES, withSecretFiles, type ReadSecretFile } from './secret-files.js'

// The one description of the environment. Every variable is a string on the
// way in; TypeBox converts and checks it, and every offending variable is
// reported at once so an operator fixes the deployment in one go.

const int = (defaultValue: number, minimum: number, maximum = Number.MAX_SAFE_INTEGER, description = '') =>
  Type.Integer({ default: defaultValue, minimum, maximum, description })
// Node's timers take at most this many milliseconds; longer ones fire at once.
export const MAX_TIMER_MS = 2 ** 31 - 1
const ms = (defaultValue: number, minimum: number) => int(defaultValue, minimum, MAX_TIMER_MS)

// lru-cache sets aside its slots for the whole bound at start: 10,000,000 ran
// out of heap under npm start's ceiling. Idle RSS at this maximum is in the README.
export const MAX_CACHE_ENTRIES = 1_000_000

// Kopo Kopo's two origins: the sandbox is the default for trying the service
// out, and the live one is what production must name (see loadConfig).
const SANDBOX_ORIGIN = 'https://sandbox.kopokopo.com'
const LIVE_ORIGIN = 'https://api.kopokopo.com'

export const EnvSchema = Type.Object({
  NODE_ENV: Type.String({ default: 'development' }),
  HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  PORT: int(3000, 0, 65535),
  K2_BASE_URL: Type.String({ default: SANDBOX_ORIGIN }),
  K2_CLIENT_ID: Type.Optional(Type.String()),
  K2_CLIENT_SECRET: Type.Optional(Type.String()),
  K2_LINK_BASE_URL: Type.Optional(Type.String()),
  K2_ALLOW_INSECURE_HTTP: Type.Boolean({ default: false }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  CACHE_TTL_MS: int(3000, 0),
  CACHE_FINAL_TTL_MS: int(300000, 0),
  CACHE_NOT_FOUND_TTL_MS: int(1000, 0),
  CACHE_STALE_IF_ERROR_MS: int(30000, 0),
  CACHE_MAX_ENTRIES: int(10000, 1, MAX_CACHE_ENTRIES),
  CACHE_MAX_BYTES: int(32 * 1024 * 1024, 1024),
  UPSTREAM_TIMEOUT_MS: ms(5000, 1),
  UPSTREAM_CONNECTIONS: int(32, 1, 1024),
  UPSTREAM_RETRIES: int(2, 0, 10),
  CIRCUIT_FAILURE_THRESHOLD: int(5, 1),
  CIRCUIT_RESET_MS: ms(10000, 1),
  RATE_LIMIT_MAX: int(120, 1),
  RATE_LIMIT_WINDOW_MS: ms(60000, 1),
  // About 220 bytes of heap each: the maximum, some 44 MiB, fits under npm start's heap ceiling beside a full cache.
  RATE_LIMIT_CLIENTS: int(10000, 1, 200_000),
  TRUST_PROXY: Type.String({ default: '' }),
  API_KEYS: Type.String({ default: '' }),
  CORS_ORIGINS: Type.String({ default: '' }),
  METRICS_PORT: int(9464, 0, 65535),
  METRICS_HOST: Type.Optional(Type.String({ minLength: 1 })),
  SHUTDOWN_DRAIN_DELAY_MS: ms(0, 0),
  SHUTDOWN_TIMEOUT_MS: ms(10000, 0)
})
export type Env = Static<typeof EnvSchema>

export class ConfigError extends Error {
  readonly variables: string[]
  constructor (problems: Map<string, string>) {
    const lines = [...problems].map(([name, why]) => `  ${name}: ${why}`)
    super(`Invalid configuration (${problems.size} variable${problems.size === 1 ? '' : 's'}):\n${lines.join('\n')}`)
    this.name = 'ConfigError'
    this.variables = [...problems.keys()]
  }
}

export type TrustProxy = boolean | number | string[]

export interface Config {
  nodeEnv: string
  host: string
  port: number
  logLevel: Env['LOG_LEVEL']
  upstream: {
    /** `simulator` when no credentials are set outside production. */
    mode: 'kopokopo' | 'simulator'
    /** Origin of the Kopo Kopo API, no trailing slash. */
    baseUrl: string
    /** Where relative payment-page links are resolved, when set (K2_LINK_BASE_URL); else baseUrl, whatever that turns out to be. */
    linkBaseUrl: string | null
    credentials: { clientId: string, clientSecret: string } | null
    timeoutMs: number
    connections: number
    retries: number
  }
  cache: {
    ttlMs: number
    finalTtlMs: number
    notFoundTtlMs: number
    staleIfErrorMs: number
    maxEntries: number
    maxBytes: number
  }
  circuit: { failureThreshold: number, resetMs: number }
  /** clients: how many clients' budgets are kept; the least recently seen beyond it start afresh. */
  rateLimit: { max: number, windowMs: number, clients: number }
  trustProxy: TrustProxy
  apiKeys: string[]
  corsOrigins: string[] | '*'
  metrics: { host: string, port: number }
  /** How long readiness answers 503 while requests are still served, before the listener closes. */
  shutdownDrainDelayMs: number
  shutdownTimeoutMs: number
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])
const MIN_API_KEY_LENGTH = 16

/** Reads the environment; throws ConfigError naming every bad variable. */
export function loadConfig (given: Record<string, string | undefined>, readFile?: ReadSecretFile): Config {
  const problems = new Map<string, string>()
  const source = withSecretFiles(given, problems, readFile)
  // Empty strings count as unset, as in most .env conventions.
  const raw = Object.fromEntries(Object.keys(EnvSchema.properties)
    .filter(k => source[k] !== undefined && source[k] !== '')
    .map(k => [k, source[k]]))
  // Convert works on a copy: the messages below quote what the operator wrote.
  const env = Value.Default(EnvSchema, Value.Convert(EnvSchema, { ...raw })) as Env
  // Checked one variable at a time: a whole-object check may stop at the first
  // failing union, and the operator should hear about every variable at once.
  for (const [name, schema] of Object.entries(EnvSchema.properties)) {
    const given = raw[name]
    // Convert reads `true`, `0x10` or `1e3` as numbers and truncates `0.5`:
    // a count or a duration is written in plain digits or refused.
    if (given !== undefined && Type.IsInteger(schema) && !/^\d+$/.test(given.trim())) {
      problems.set(name, `must be a whole number written in digits (got ${JSON.stringify(given)})`)
      continue
    }
    const value = env[name as keyof Env]
    const [error] = value === undefined ? [] : Value.Errors(schema, value)
    if (error === undefined) continue
    const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues
    const why = allowed === undefined ? error.message : `must be one of ${allowed.join(', ')}`
    problems.set(name, `${why} (got ${JSON.stringify(given)})`)
  }
  if (!problems.has('SHUTDOWN_DRAIN_DELAY_MS') && !problems.has('SHUTDOWN_TIMEOUT_MS') &&
    env.SHUTDOWN_DRAIN_DELAY_MS + env.SHUTDOWN_TIMEOUT_MS > MAX_TIMER_MS) {
    problems.set('SHUTDOWN_TIMEOUT_MS', `together with SHUTDOWN_DRAIN_DELAY_MS must stay within ${MAX_TIMER_MS} ms`)
  }

  const baseUrl = parseUpstreamUrl(env, problems)
  const linkBaseUrl = parseHttpUrl(env.K2_LINK_BASE_URL, 'K2_LINK_BASE_URL', problems) ?? null
  // Written any which way, it still means production: a typo must not start the simulator there.
  const production = env.NODE_ENV.trim().toLowerCase() === 'production'
  const credentials = parseCredentials(env, production, raw.K2_BASE_URL !== undefined, problems)
  if (production && raw.K2_BASE_URL === undefined) {
    // The default is the sandbox, safe for trying the service out; in production
    // it would send live credentials there and read the refusal as an outage.
    problems.set('K2_BASE_URL', `required when NODE_ENV=production: ${LIVE_ORIGIN} for live payments, ` +
      `or ${SANDBOX_ORIGIN} to try the service against the sandbox`)
  }
  const trustProxy = parseTrustProxy(env.TRUST_PROXY, problems)
  const apiKeys = splitList(env.API_KEYS)
  if (apiKeys.some(k => k.length < MIN_API_KEY_LENGTH || /\s/.test(k))) {
    problems.set('API_KEYS', `each key must be at least ${MIN_API_KEY_LENGTH} characters without spaces`)
  } else if (raw.API_KEYS !== undefined && apiKeys.length === 0) {
    // Keys were meant, and none came through: failing open would serve everyone.
    // Not quoted, as keys are not: it holds commas and white space only.
    problems.set('API_KEYS', 'names no key (commas and white space only); leave it unset for an API without keys')
  }
  const corsOrigins = parseCorsOrigins(env.CORS_ORIGINS, problems)

  // What is wrong with a value read from a file is told of the variable the
  // operator set; a file that could not be read says all there is to say.
  for (const name of FILE_VARIABLES) {
    const why = problems.get(name)
    if (why === undefined) continue
    if (problems.has(`${name}_FILE`)) problems.delete(name)
    else if (source[name] !== given[name]) {
      problems.delete(name)
      problems.set(`${name}_FILE`, `in the file: ${why}`)
    }
  }
  if (problems.size > 0) throw new ConfigError(problems)
  return {
    nodeEnv: production ? 'production' : env.NODE_ENV,
    host: env.HOST,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    upstream: {
      mode: credentials === null ? 'simulator' : 'kopokopo',
      baseUrl,
      linkBaseUrl,
      credentials,
      timeoutMs: env.UPSTREAM_TIMEOUT_MS,
      connections: env.UPSTREAM_CONNECTIONS,
      retries: env.UPSTREAM_RETRIES
    },
    cache: {
      ttlMs: env.CACHE_TTL_MS,
      finalTtlMs: env.CACHE_FINAL_TTL_MS,
      notFoundTtlMs: env.CACHE_NOT_FOUND_TTL_MS,
      staleIfErrorMs: env.CACHE_STALE_IF_ERROR_MS,
      maxEntries: env.CACHE_MAX_ENTRIES,
      maxBytes: env.CACHE_MAX_BYTES
    },
    circuit: { failureThreshold: env.CIRCUIT_FAILURE_THRESHOLD, resetMs: env.CIRCUIT_RESET_MS },
    rateLimit: { max: env.RATE_LIMIT_MAX, windowMs: env.RATE_LIMIT_WINDOW_MS, clients: env.RATE_LIMIT_CLIENTS },
    trustProxy,
    apiKeys,
    corsOrigins,
    metrics: { host: env.METRICS_HOST ?? env.HOST, port: env.METRICS_PORT },
    shutdownDrainDelayMs: env.SHUTDOWN_DRAIN_DELAY_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS
  }
}

function splitList (value: string): string[] {
  return value.split(',').map(s => s.trim()).filter(s => s !== '')
}

function parseHttpUrl (value: string | undefined, name: string, problems: Map<string, string>): string | undefined {
  if (value === undefined) return undefined
  // What the operator wrote is never quoted back: it may hold a user:password@.
  let url: URL
  try {
    url = new URL(value)
  } catch {
    problems.set(name, `not a URL; write an origin such as ${LIVE_ORIGIN}`)
    return undefined
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    problems.set(name, `must be an http(s) URL (got ${url.protocol})`)
    return undefined
  }
  if (url.username !== '' || url.password !== '') {
    problems.set(name, 'must not carry a user name or password')
    return undefined
  }
  // Only the origin is used (Kopo Kopo lives at the root of its host): a path
  // would be dropped without a word, so it is refused instead.
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    problems.set(name, `must be an origin, without a path, query or fragment: write ${url.origin}`)
    return undefined
  }
  return url.origin
}

function parseUpstreamUrl (env: Env, problems: Map<string, string>): string {
  const origin = parseHttpUrl(env.K2_BASE_URL, 'K2_BASE_URL', problems)
  if (origin === undefined) return ''
  const url = new URL(origin)
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname) && !env.K2_ALLOW_INSECURE_HTTP) {
    problems.set('K2_BASE_URL', 'plain http:// would send the client secret and tokens unencrypted; use https://, ' +
      'or set K2_ALLOW_INSECURE_HTTP=true for a trusted private network such as a local simulator')
  }
  return origin
}

function parseCredentials (env: Env, production: boolean, baseUrlGiven: boolean,
  problems: Map<string, string>): Config['upstream']['credentials'] {
  const { K2_CLIENT_ID: id, K2_CLIENT_SECRET: secret } = env
  // A newline carried over from the file or secret store a value was copied
  // from would be sent as part of it, and read as Kopo Kopo refusing the pair.
  // Said without the value: it is a credential.
  const padded = ([['K2_CLIENT_ID', id], ['K2_CLIENT_SECRET', secret]] as const).filter(([, v]) => v !== undefined && v !== v.trim())
  for (const [name] of padded) problems.set(name, 'begins or ends with white space (a newline from where it was copied?); remove it')
  // The other of the pair is still judged: one message names every fault.
  if (id !== undefined && secret !== undefined) return padded.length > 0 ? null : { clientId: id, clientSecret: secret }
  let why: string | undefined
  if (id !== undefined || secret !== undefined) {
    problems.set(id === undefined ? 'K2_CLIENT_ID' : 'K2_CLIENT_SECRET', 'must be set together with ' +
      (id === undefined ? 'K2_CLIENT_SECRET' : 'K2_CLIENT_ID'))
  } else if (production) {
    why = 'required when NODE_ENV=production (the built-in simulator only runs outside production)'
  } else if (baseUrlGiven) {
    // An operator who names an upstream means to call it, not the simulator.
    why = 'required when K2_BASE_URL is set (without credentials the built-in simulator would answer ' +
      'instead); unset K2_BASE_URL to run the simulator'
  }
  if (why !== undefined) {
    problems.set('K2_CLIENT_ID', why)
    problems.set('K2_CLIENT_SECRET', why)
  }
  return null
}

function parseTrustProxy (value: string, problems: Map<string, string>): TrustProxy {
  const v = value.trim().toLowerCase()
  if (v === '' || v === 'false') return false
  if (v === 'true') return true
  if (/^\d+$/.test(v)) return Number(v)
  const entries = splitList(value)
  const bad = entries.filter(e => !isAddressOrCidr(e))
  if (bad.length > 0) {
    problems.set('TRUST_PROXY', `expected false, true, a hop count, or addresses/CIDRs; not understood: ${bad.join(', ')}`)
  }
  return entries
}

function isAddressOrCidr (entry: string): boolean {
  const [address = '', bits, extra] = entry.split('/')
  const family = isIP(address)
  if (family === 0 || extra !== undefined) return false
  if (bits === undefined) return true
  return /^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)
}

function parseCorsOrigins (value: string, problems: Map<string, string>): Config['corsOrigins'] {
  const entries = splitList(value)
  if (entries.length === 1 && entries[0] === '*') return '*'
  const bad = entries.filter(e => {
    try {
      return new URL(e).origin !== e
    } catch {
      return true
    }
  })
  if (bad.length > 0) {
    problems.set('CORS_ORIGINS', `expected * or exact origins such as https://shop.example; not understood: ${bad.join(', ')}`)
  }
  return entries
}
