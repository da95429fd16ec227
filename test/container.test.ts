import { readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import t from 'tap'
import { parse as parseYaml } from 'yaml'
import { EnvSchema, loadConfig } from '../src/config.js'
import { DEFAULT_SIMULATOR_PORT, readSimulatorEnv } from '../src/simulator/cli-config.js'
import { SIMULATOR_CREDENTIALS } from '../src/simulator/seed.js'
import { DEFAULT_TOKEN_TTL_SECONDS } from '../src/simulator/state.js'

// No Docker daemon runs the suite, so the Dockerfile, docker-compose.yml and
// .env.example are read as data and held to the properties that matter in
// production. Each check is a named predicate; the real files must pass them
// all, and deliberately broken files must fail every one, so no check is vacuous.

const read = (name: string): string => readFileSync(new URL(`../${name}`, import.meta.url), 'utf8')
const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> }

// ---- Dockerfile ----------------------------------------------------------

interface Instruction { keyword: string, args: string }
interface Stage { image: string, name: string | undefined, instructions: Instruction[] }

/** Stages by FROM; continuation lines joined, comments dropped (as Docker does). */
function parseDockerfile (text: string): Stage[] {
  const stages: Stage[] = []
  let pending = ''
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line.startsWith('#') || (line === '' && pending === '')) continue
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' '
      continue
    }
    const full = (pending + line).trim()
    pending = ''
    if (full === '') continue
    const keyword = full.split(/\s/, 1)[0] as string
    const args = full.slice(keyword.length).trim()
    if (keyword.toUpperCase() === 'FROM') {
      const words = args.split(/\s+/).filter(w => !w.startsWith('--'))
      const as = words.findIndex(w => w.toUpperCase() === 'AS')
      stages.push({ image: words[0] ?? '', name: as === -1 ? undefined : words[as + 1], instructions: [] })
    } else {
      stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args })
    }
  }
  return stages
}

const all = (stage: Stage, keyword: string): string[] =>
  stage.instructions.filter(i => i.keyword === keyword).map(i => i.args)
const last = (stage: Stage, keyword: string): string | undefined => all(stage, keyword).at(-1)

function envOf (stage: Stage): Record<string, string> {
  const env: Record<string, string> = {}
  for (const args of all(stage, 'ENV')) {
    const legacy = /^(\w+)\s+([^=]*)$/.exec(args)
    if (legacy !== null) {
      env[legacy[1] as string] = (legacy[2] as string).trim()
      continue
    }
    for (const m of args.matchAll(/(\w+)=(?:"([^"]*)"|'([^']*)'|(\S*))/g)) {
      env[m[1] as string] = m[2] ?? m[3] ?? m[4] ?? ''
    }
  }
  return env
}

/** The JSON array of an exec-form instruction; null for the shell form. */
function execForm (args: string | undefined): string[] | null {
  if (args === undefined) return null
  try {
    const value: unknown = JSON.parse(args)
    return Array.isArray(value) && value.length > 0 && value.every(v => typeof v === 'string') ? value : null
  } catch {
    return null
  }
}

function healthcheckCommand (stage: Stage): string[] | null {
  const args = last(stage, 'HEALTHCHECK')
  const cmd = args === undefined ? -1 : args.search(/\bCMD\s/)
  return args === undefined || cmd === -1 ? null : execForm(args.slice(cmd + 3).trim())
}

const npmInstalls = (stage: Stage): string[] =>
  all(stage, 'RUN').flatMap(run => run.split(/&&|;/)).map(s => s.trim())
    .filter(s => /^npm\s+(ci|install|i|prune)\b/.test(s))
const omitsDev = (command: string): boolean => /--omit[= ]dev\b|--production\b/.test(command)

/** True when a stage's node_modules ends up free of dev dependencies. */
function stageHasProductionModules (stage: Stage): boolean {
  // The last install or prune decides: a full install after a production one
  // brings the dev dependencies back, a prune after a full install removes them.
  const lastInstall = npmInstalls(stage).at(-1)
  return lastInstall !== undefined && omitsDev(lastInstall)
}

/** Sources of a COPY that may carry node_modules: node_modules itself, or a whole working directory. */
function copiesNodeModules (args: string, workdir: string | undefined): boolean {
  const words = execForm(args) ?? args.split(/\s+/).filter(w => !w.startsWith('--'))
  const sources = words.slice(0, -1)
  const whole = new Set(['.', './', '/', workdir, `${workdir}/`, `${workdir}/.`])
  return sources.some(s => /(^|\/)node_modules\/?$/.test(s) || whole.has(s))
}

function noDevDependencies (stages: Stage[]): boolean {
  const final = stages.at(-1)
  if (final === undefined) return false
  let hasModules = false
  for (const install of npmInstalls(final)) {
    if (!omitsDev(install)) return false
    hasModules = true
  }
  for (const args of all(final, 'COPY').concat(all(final, 'ADD'))) {
    const from = /--from=(\S+)/.exec(args)?.[1]
    const source = from === undefined ? undefined : (stages.find(s => s.name === from) ?? stages[Number(from)])
    const workdir = last(source ?? final, 'WORKDIR')
    if (!copiesNodeModules(args, workdir)) continue
    // The build context's node_modules (if .dockerignore ever lets it in) is the developer's, dev tools and all.
    if (source === undefined || !stageHasProductionModules(source)) return false
    hasModules = true
  }
  return hasModules
}

const dockerChecks: Record<string, (stages: Stage[]) => boolean> = {
  'a build stage apart from the runtime stage': stages => stages.length >= 2,
  'the runtime stage is Node 24': stages => /^node:24([-.@]|$)/.test(stages.at(-1)?.image ?? ''),
  'the runtime stage sets NODE_ENV=production': stages => envOf(stages.at(-1) as Stage).NODE_ENV === 'production',
  'the runtime stage listens on all interfaces (HOST=0.0.0.0)': stages => envOf(stages.at(-1) as Stage).HOST === '0.0.0.0',
  'the runtime stage runs as a non-root user': stages => {
    const user = last(stages.at(-1) as Stage, 'USER')?.split(':')[0]
    return user !== undefined && user !== 'root' && user !== '0'
  },
  'the healthcheck is an exec-form node command': stages => healthcheckCommand(stages.at(-1) as Stage)?.[0] === 'node',
  'the healthcheck probes /health/live': stages => healthcheckCommand(stages.at(-1) as Stage)?.join(' ').includes('/health/live') === true,
  'the healthcheck needs no curl or wget': stages => {
    const args = last(stages.at(-1) as Stage, 'HEALTHCHECK')
    return args !== undefined && !/\b(curl|wget)\b/.test(args)
  },
  'CMD is exec form, so SIGTERM reaches node as PID 1': stages => execForm(last(stages.at(-1) as Stage, 'CMD'))?.[0] === 'node',
  // `exec` only replaces npm's script shell with node; the image has no shell in between to replace.
  'CMD runs what `npm start` runs': stages => execForm(last(stages.at(-1) as Stage, 'CMD'))?.join(' ') === pkg.scripts.start?.replace(/^exec /, ''),
  'the public port is exposed': stages => all(stages.at(-1) as Stage, 'EXPOSE').join(' ').split(/\s+/)
    .includes(envOf(stages.at(-1) as Stage).PORT ?? '3000'),
  'the runtime stage holds no dev dependencies': noDevDependencies
}

const BAD_DOCKERFILE = `FROM node:22
WORKDIR /app
COPY . .
RUN npm ci && npm run build
EXPOSE 8080
HEALTHCHECK CMD curl -f http://localhost:3000/health
CMD npm start
`

t.test('the Dockerfile', async (t) => {
  const stages = parseDockerfile(read('Dockerfile'))
  for (const [name, check] of Object.entries(dockerChecks)) t.ok(check(stages), name)
})

t.test('a careless Dockerfile fails every check', async (t) => {
  const stages = parseDockerfile(BAD_DOCKERFILE)
  for (const [name, check] of Object.entries(dockerChecks)) t.notOk(check(stages), name)
})

t.test('node_modules copied from a stage that installed dev dependencies is caught', async (t) => {
  const stage = (install: string) => parseDockerfile(`FROM node:24-slim AS build
WORKDIR /app
RUN ${install}
FROM node:24-slim
COPY --from=build /app/node_modules ./node_modules
`)
  t.notOk(noDevDependencies(stage('npm ci')), 'a full install')
  t.notOk(noDevDependencies(stage('npm ci --omit=dev && npm install')), 'a full install after the production one')
  t.ok(noDevDependencies(stage('npm ci && npm prune --omit=dev')), 'pruned after the build')
  t.ok(noDevDependencies(stage('npm ci --omit=dev --ignore-scripts')), 'a production install')
  t.notOk(noDevDependencies(parseDockerfile(`FROM node:24-slim AS build
WORKDIR /app
RUN npm ci
FROM node:24-slim AS deps
RUN npm ci --omit=dev
FROM node:24-slim
COPY --from=build /app ./
`)), 'the whole working directory of the build stage')
})

// ---- docker-compose.yml --------------------------------------------------

interface Service {
  command?: string | string[]
  environment?: Record<string, string | number | boolean | null> | string[]
  env_file?: string | Array<string | { path: string, required?: boolean }>
  ports?: Array<string | number>
  depends_on?: string[] | Record<string, unknown>
  healthcheck?: { disable?: boolean, test?: string | string[] }
}
interface Compose { services?: Record<string, Service> }

function environment (service: Service | undefined): Record<string, string> {
  const env = service?.environment
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map(e => e.includes('=') ? [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] : [e, '']))
  }
  return Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]))
}

const commandOf = (service: Service | undefined): string =>
  Array.isArray(service?.command) ? service.command.join(' ') : service?.command ?? ''

/** The default of a `${NAME:-default}` interpolation, or the literal value. */
function valueOrDefault (value: string | undefined, name: string): string | undefined {
  const m = /^\$\{(\w+):?-([^}]*)\}$/.exec(value ?? '')
  if (m === null) return value
  return m[1] === name ? m[2] : undefined
}

const composeChecks: Record<string, (compose: Compose) => boolean> = {
  // The script `exec`s node so that npm's shell passes signals on; compose runs node directly.
  'the simulator runs what `npm run simulator` runs': c => `exec ${commandOf(c.services?.simulator)}` === pkg.scripts.simulator,
  'the simulator listens on the compose network': c => environment(c.services?.simulator).SIMULATOR_HOST === '0.0.0.0',
  'the BFF calls the simulator service on its port': c => {
    const base = environment(c.services?.bff).K2_BASE_URL
    if (base === undefined || !URL.canParse(base)) return false
    const url = new URL(base)
    const port = environment(c.services?.simulator).SIMULATOR_PORT ?? String(DEFAULT_SIMULATOR_PORT)
    return url.hostname === 'simulator' && url.port === port
  },
  'the BFF allows plain HTTP to it': c => environment(c.services?.bff).K2_ALLOW_INSECURE_HTTP === 'true',
  'the BFF reads an optional .env': c => {
    const files = c.services?.bff?.env_file
    const entries = (Array.isArray(files) ? files : files === undefined ? [] : [files])
      .map(f => typeof f === 'string' ? { path: f, required: true } : f)
    return entries.some(f => f.path.replace(/^\.\//, '') === '.env' && f.required === false)
  },
  'both share one credential pair, the simulator\'s by default': c => {
    const sim = environment(c.services?.simulator)
    const bff = environment(c.services?.bff)
    return sim.K2_CLIENT_ID === bff.K2_CLIENT_ID && sim.K2_CLIENT_SECRET === bff.K2_CLIENT_SECRET &&
      valueOrDefault(bff.K2_CLIENT_ID, 'K2_CLIENT_ID') === SIMULATOR_CREDENTIALS.clientId &&
      valueOrDefault(bff.K2_CLIENT_SECRET, 'K2_CLIENT_SECRET') === SIMULATOR_CREDENTIALS.clientSecret
  },
  'a .env cannot move the BFF off 0.0.0.0': c => environment(c.services?.bff).HOST === '0.0.0.0',
  'the BFF starts after the simulator': c => {
    const deps = c.services?.bff?.depends_on
    return Array.isArray(deps) ? deps.includes('simulator') : deps?.simulator !== undefined
  },
  'metrics are published on the host\'s loopback only': c => {
    const metrics = (c.services?.bff?.ports ?? []).map(String).filter(p => /(^|:)9464(\/tcp)?$/.test(p))
    return metrics.length > 0 && metrics.every(p => p.startsWith('127.0.0.1:'))
  },
  'the BFF keeps the image\'s healthcheck': c => {
    const hc = c.services?.bff?.healthcheck
    return c.services?.bff !== undefined && hc?.disable !== true && !(Array.isArray(hc?.test) && hc.test[0] === 'NONE')
  }
}

const BAD_COMPOSE = `services:
  simulator:
    build: .
    command: ["node", "dist/src/server.js"]
  bff:
    build: .
    env_file: .env
    environment:
      HOST: 127.0.0.1
      K2_BASE_URL: https://sandbox.kopokopo.com
      K2_CLIENT_ID: real-looking-id
    ports: ["3000:3000", "9464:9464"]
    healthcheck:
      disable: true
`

t.test('docker-compose.yml', async (t) => {
  const compose = parseYaml(read('docker-compose.yml')) as Compose
  for (const [name, check] of Object.entries(composeChecks)) t.ok(check(compose), name)
})

t.test('a careless compose file fails every check', async (t) => {
  const compose = parseYaml(BAD_COMPOSE) as Compose
  for (const [name, check] of Object.entries(composeChecks)) t.notOk(check(compose), name)
})

// ---- .env.example --------------------------------------------------------

const SIMULATOR_DEFAULTS: Record<string, string> = {
  SIMULATOR_PORT: String(DEFAULT_SIMULATOR_PORT),
  SIMULATOR_HOST: '127.0.0.1',
  SIMULATOR_TOKEN_TTL_SECONDS: String(DEFAULT_TOKEN_TTL_SECONDS)
}

t.test('.env.example', async (t) => {
  const text = read('.env.example')
  const env = parseEnv(text)
  const known = [...Object.keys(EnvSchema.properties), ...Object.keys(SIMULATOR_DEFAULTS)]
  t.match(text, /^# K2_CLIENT_SECRET_FILE=\/run\/secrets\//m, 'the secret file is shown, commented out')

  for (const name of known) {
    t.match(text, new RegExp(`^(# )?${name}=`, 'm'), `${name} is listed`)
  }
  t.strictSame(Object.keys(env).filter(name => !known.includes(name)), [], 'no unknown (misspelt) variables')

  for (const [name, schema] of Object.entries(EnvSchema.properties)) {
    const fallback = (schema as { default?: unknown }).default
    const expected = fallback === undefined ? '' : String(fallback)
    if (name === 'K2_BASE_URL' || name === 'K2_CLIENT_ID' || name === 'K2_CLIENT_SECRET') continue
    t.equal(env[name], expected, `${name} shows its default`)
  }
  for (const [name, expected] of Object.entries(SIMULATOR_DEFAULTS)) t.equal(env[name], expected, `${name} shows its default`)

  // Copied to .env it must not point `npm start` at the sandbox with the
  // simulator's pair: without credentials, the built-in simulator runs.
  t.equal(env.K2_CLIENT_ID, undefined, 'K2_CLIENT_ID is left unset')
  t.equal(env.K2_CLIENT_SECRET, undefined, 'K2_CLIENT_SECRET is left unset')
  // Without credentials, a K2_BASE_URL is refused.
  t.equal(env.K2_BASE_URL, undefined, 'K2_BASE_URL is left unset')
  t.match(text, `# K2_BASE_URL=${String((EnvSchema.properties.K2_BASE_URL as { default?: unknown }).default)}\n`, 'K2_BASE_URL shows its default, commented out')
  // The rule the file warns about, as Node's parser applies it.
  t.match(text, /K2_CLIENT_SECRET="[^"#]*#[^"]*"/, 'a secret with # is shown quoted')
  t.same(parseEnv('S=ab#cd\nQ="ab#cd"'), { S: 'ab', Q: 'ab#cd' })
  t.doesNotThrow(() => readSimulatorEnv(env), 'the simulator accepts it')
  const config = loadConfig(env)
  t.equal(config.upstream.mode, 'simulator', 'the service accepts it and runs the built-in simulator')
})
