import { readFile } from 'node:fs/promises'
import t from 'tap'
import { ConfigError, EnvSchema, loadConfig } from '../src/config.js'
import { FILE_VARIABLES, type ReadSecretFile } from '../src/secret-files.js'

const creds = { K2_CLIENT_ID: 'id-for-tests', K2_CLIENT_SECRET: 'secret-for-tests-1234' }
const LIVE = 'https://api.kopokopo.com'

function errorOf (env: Record<string, string>, readFile?: ReadSecretFile): ConfigError {
  try {
    loadConfig(env, readFile)
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

t.test('defaults', async t => {
  const config = loadConfig({})
  t.same(config, {
    nodeEnv: 'development',
    host: '127.0.0.1',
    port: 3000,
    logLevel: 'info',
    upstream: {
      mode: 'simulator',
      baseUrl: 'https://sandbox.kopokopo.com',
      linkBaseUrl: null,
      credentials: null,
      timeoutMs: 5000,
      connections: 32,
      retries: 2
    },
    cache: { ttlMs: 3000, finalTtlMs: 300000, notFoundTtlMs: 1000, staleIfErrorMs: 30000, maxEntries: 10000, maxBytes: 33554432 },
    circuit: { failureThreshold: 5, resetMs: 10000 },
    rateLimit: { max: 120, windowMs: 60000, clients: 10000 },
    trustProxy: false,
    apiKeys: [],
    corsOrigins: [],
    metrics: { host: '127.0.0.1', port: 9464 },
    shutdownDrainDelayMs: 0,
    shutdownTimeoutMs: 10000
  })
})

t.test('credentials select Kopo Kopo; the base URL is normalised to its origin', async t => {
  const config = loadConfig({ ...creds, K2_BASE_URL: 'https://api.kopokopo.com/', K2_LINK_BASE_URL: 'https://pay.example.test' })
  t.equal(config.upstream.mode, 'kopokopo')
  t.equal(config.upstream.baseUrl, 'https://api.kopokopo.com')
  t.equal(config.upstream.linkBaseUrl, 'https://pay.example.test')
  t.same(config.upstream.credentials, { clientId: 'id-for-tests', clientSecret: 'secret-for-tests-1234' })
})

t.test('every offending variable is named at once, without echoing secrets', async t => {
  const err = errorOf({
    PORT: 'eighty',
    LOG_LEVEL: 'loud',
    CACHE_TTL_MS: '-1',
    UPSTREAM_RETRIES: '99',
    K2_BASE_URL: 'ftp://x',
    K2_CLIENT_SECRET: 'only-the-secret-value',
    TRUST_PROXY: 'nope',
    CORS_ORIGINS: 'https://a.test/path',
    API_KEYS: 'short'
  })
  t.same(err.variables.sort(), ['API_KEYS', 'CACHE_TTL_MS', 'CORS_ORIGINS', 'K2_BASE_URL', 'K2_CLIENT_ID', 'LOG_LEVEL', 'PORT', 'TRUST_PROXY', 'UPSTREAM_RETRIES'])
  t.match(err.message, /^Invalid configuration \(9 variables\):/)
  t.match(err.message, 'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")')
  t.match(err.message, 'K2_CLIENT_ID: must be set together with K2_CLIENT_SECRET')
  t.notMatch(err.message, 'only-the-secret-value')
  t.notMatch(err.message, 'short', 'API keys are not echoed either')
})

t.test('Kopo Kopo URLs are origins, and are never quoted back', async t => {
  for (const name of ['K2_BASE_URL', 'K2_LINK_BASE_URL']) {
    const unparsable = errorOf({ ...creds, [name]: 'https://user:hunter2-secret@api.kopokopo.com:99999' })
    t.same(unparsable.variables, [name])
    t.match(unparsable.message, `${name}: not a URL; write an origin such as https://api.kopokopo.com`)
    t.notMatch(unparsable.message, 'hunter2-secret')
    const withUser = errorOf({ ...creds, [name]: 'https://user:hunter2-secret@api.kopokopo.com' })
    t.match(withUser.message, `${name}: must not carry a user name or password`)
    t.notMatch(withUser.message, 'hunter2-secret')
    for (const extra of ['/api/v1', '/api/', '?x=1', '#top']) {
      const err = errorOf({ ...creds, [name]: `https://api.kopokopo.com${extra}` })
      t.same(err.variables, [name], extra)
      t.match(err.message, `${name}: must be an origin, without a path, query or fragment: write https://api.kopokopo.com`)
    }
  }
})

t.test('numbers are plain digits, and timers fit Node\'s', async t => {
  const written: Array<[string, string]> = [['PORT', 'true'], ['PORT', '0x10'], ['RATE_LIMIT_MAX', '120.9'], ['CACHE_TTL_MS', '1e3'],
    ['UPSTREAM_TIMEOUT_MS', '0.5'], ['CACHE_FINAL_TTL_MS', 'false'], ['UPSTREAM_CONNECTIONS', '0b11']]
  for (const [name, value] of written) {
    const err = errorOf({ [name]: value })
    t.same(err.variables, [name])
    t.match(err.message, `${name}: must be a whole number written in digits (got "${value}")`)
  }
  t.equal(loadConfig({ PORT: ' 8080 ' }).port, 8080, 'surrounding spaces are fine')
  for (const name of ['UPSTREAM_TIMEOUT_MS', 'CIRCUIT_RESET_MS', 'RATE_LIMIT_WINDOW_MS', 'SHUTDOWN_DRAIN_DELAY_MS', 'SHUTDOWN_TIMEOUT_MS']) {
    t.match(errorOf({ [name]: '2147483648' }).message, `${name}: must be <= 2147483647 (got "2147483648")`)
    t.equal(errorOf({ [name]: '2147483648' }).variables.length, 1)
  }
  t.match(errorOf({ SHUTDOWN_DRAIN_DELAY_MS: '2147483000' }).message,
    'SHUTDOWN_TIMEOUT_MS: together with SHUTDOWN_DRAIN_DELAY_MS must stay within 2147483647 ms')
})

t.test('CACHE_MAX_ENTRIES has a ceiling, as the cache sets aside room for all of them at start', async t => {
  t.equal(loadConfig({ CACHE_MAX_ENTRIES: '1000000' }).cache.maxEntries, 1_000_000)
  for (const value of ['1000001', '10000000', '4294967296']) {
    const err = errorOf({ CACHE_MAX_ENTRIES: value })
    t.same(err.variables, ['CACHE_MAX_ENTRIES'])
    t.match(err.message, `CACHE_MAX_ENTRIES: must be <= 1000000 (got "${value}")`)
  }
})

t.test('RATE_LIMIT_CLIENTS has a ceiling its budgets fit under the heap with a full cache', async t => {
  t.equal(loadConfig({ RATE_LIMIT_CLIENTS: '200000' }).rateLimit.clients, 200_000)
  for (const [value, why] of [['200001', 'must be <= 200000'], ['0', 'must be >= 1']] as const) {
    const err = errorOf({ RATE_LIMIT_CLIENTS: value })
    t.same(err.variables, ['RATE_LIMIT_CLIENTS'])
    t.match(err.message, `RATE_LIMIT_CLIENTS: ${why} (got "${value}")`)
  }
})

t.test('production needs credentials', async t => {
  const err = errorOf({ NODE_ENV: 'production', K2_BASE_URL: LIVE })
  t.same(err.variables, ['K2_CLIENT_ID', 'K2_CLIENT_SECRET'])
  t.match(err.message, 'required when NODE_ENV=production')
  t.equal(loadConfig({ NODE_ENV: 'production', K2_BASE_URL: LIVE, ...creds }).upstream.mode, 'kopokopo')
})

t.test('production needs K2_BASE_URL named: the sandbox default is for trying the service out', async t => {
  const err = errorOf({ NODE_ENV: 'production', ...creds })
  t.same(err.variables, ['K2_BASE_URL'])
  t.equal(err.message, 'Invalid configuration (1 variable):\n  K2_BASE_URL: required when NODE_ENV=production: ' +
    'https://api.kopokopo.com for live payments, or https://sandbox.kopokopo.com to try the service against the sandbox')
  t.same(errorOf({ NODE_ENV: 'production', K2_BASE_URL: '', ...creds }).variables, ['K2_BASE_URL'], 'empty is unset')
  t.same(errorOf({ NODE_ENV: 'production' }).variables, ['K2_CLIENT_ID', 'K2_CLIENT_SECRET', 'K2_BASE_URL'], 'all in one message')
  const sandbox = loadConfig({ NODE_ENV: 'production', K2_BASE_URL: 'https://sandbox.kopokopo.com', ...creds })
  t.equal(sandbox.upstream.baseUrl, 'https://sandbox.kopokopo.com', 'the sandbox, when named, is taken')
  t.equal(loadConfig({ NODE_ENV: 'production', K2_BASE_URL: LIVE, ...creds }).upstream.baseUrl, LIVE)
  t.equal(loadConfig({ ...creds }).upstream.baseUrl, 'https://sandbox.kopokopo.com', 'outside production the default stands')
})

t.test('production, however NODE_ENV writes it, needs credentials', async t => {
  for (const written of ['Production', 'PRODUCTION', ' production ', 'production\t']) {
    const err = errorOf({ NODE_ENV: written, K2_BASE_URL: LIVE })
    t.same(err.variables, ['K2_CLIENT_ID', 'K2_CLIENT_SECRET'], JSON.stringify(written))
    t.match(err.message, 'required when NODE_ENV=production')
    t.equal(loadConfig({ NODE_ENV: written, K2_BASE_URL: LIVE, ...creds }).nodeEnv, 'production')
    t.same(errorOf({ NODE_ENV: written, ...creds }).variables, ['K2_BASE_URL'], JSON.stringify(written))
  }
  t.equal(loadConfig({ NODE_ENV: 'productionish' }).upstream.mode, 'simulator', 'only production itself')
})

t.test('a K2_BASE_URL without credentials is refused rather than left for the simulator', async t => {
  const err = errorOf({ K2_BASE_URL: 'https://api.kopokopo.com' })
  t.same(err.variables, ['K2_CLIENT_ID', 'K2_CLIENT_SECRET'])
  t.match(err.message, 'K2_CLIENT_ID: required when K2_BASE_URL is set')
  t.match(err.message, 'K2_CLIENT_SECRET: required when K2_BASE_URL is set')
  t.equal(loadConfig({ K2_BASE_URL: '' }).upstream.mode, 'simulator', 'empty is unset')
  t.equal(loadConfig({ K2_BASE_URL: 'https://api.kopokopo.com', ...creds }).upstream.mode, 'kopokopo')
})

t.test('credentials travel only over TLS, except to loopback or when explicitly allowed', async t => {
  const err = errorOf({ ...creds, K2_BASE_URL: 'http://kopokopo.internal:4010' })
  t.same(err.variables, ['K2_BASE_URL'])
  t.match(err.message, 'K2_ALLOW_INSECURE_HTTP=true')
  for (const host of ['127.0.0.1:4010', 'localhost:4010', '[::1]:4010']) {
    t.equal(loadConfig({ ...creds, K2_BASE_URL: `http://${host}` }).upstream.baseUrl, `http://${host}`)
  }
  t.equal(loadConfig({ ...creds, K2_BASE_URL: 'http://simulator:4010', K2_ALLOW_INSECURE_HTTP: 'true' }).upstream.baseUrl, 'http://simulator:4010')
})

t.test('TRUST_PROXY: off, true, hop count, or addresses and CIDRs', async t => {
  t.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false)
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true)
  t.equal(loadConfig({ TRUST_PROXY: '1' }).trustProxy, 1)
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1,fd00::/8' }).trustProxy, ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8'])
  for (const bad of ['10.0.0.0/33', 'proxy.example', '10.0.0.0/8/1', '::1/129']) {
    t.same(errorOf({ TRUST_PROXY: bad }).variables, ['TRUST_PROXY'], bad)
  }
})

t.test('CORS_ORIGINS and API_KEYS lists', async t => {
  t.equal(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins, '*')
  t.same(loadConfig({ CORS_ORIGINS: 'https://shop.example, http://localhost:5173' }).corsOrigins, ['https://shop.example', 'http://localhost:5173'])
  t.same(errorOf({ CORS_ORIGINS: 'shop.example' }).variables, ['CORS_ORIGINS'])
  t.same(loadConfig({ API_KEYS: 'first-key-0123456789, second-key-0123456789' }).apiKeys, ['first-key-0123456789', 'second-key-0123456789'])
  // Keys meant and none given must not leave the API open.
  for (const keys of [' , ', ',,']) t.equal(errorOf({ API_KEYS: keys }).message.split('\n')[1], '  API_KEYS: names no key (commas and white space only); leave it unset for an API without keys')
  const fromFile = errorOf({ API_KEYS_FILE: '/run/secrets/keys' }, () => ',, ,\n').message
  t.match(fromFile, 'API_KEYS_FILE: in the file: names no key')
  t.notMatch(fromFile, ',, ,', 'what the file holds is not quoted')
  t.same(loadConfig({ METRICS_HOST: '0.0.0.0', METRICS_PORT: '0' }).metrics, { host: '0.0.0.0', port: 0 })
})

t.test('credentials with white space around them are refused, without quoting them', async t => {
  const err = errorOf({ K2_CLIENT_ID: ' ', K2_CLIENT_SECRET: 'a-secret-from-a-file\n' })
  t.same(err.variables.sort(), ['K2_CLIENT_ID', 'K2_CLIENT_SECRET'])
  t.match(err.message, 'K2_CLIENT_SECRET: begins or ends with white space')
  t.notMatch(err.message, 'a-secret-from-a-file')
  t.same(loadConfig({ K2_CLIENT_ID: 'id', K2_CLIENT_SECRET: 'se cret' }).upstream.credentials, { clientId: 'id', clientSecret: 'se cret' }, 'inside is the value')
  // Named in the same message as the one missing beside it, not on the next start.
  for (const production of [{}, { NODE_ENV: 'production', K2_BASE_URL: LIVE }] as Array<Record<string, string>>) {
    const lone = errorOf({ ...production, K2_CLIENT_ID: 'an-id\n' })
    t.same(lone.variables.sort(), ['K2_CLIENT_ID', 'K2_CLIENT_SECRET'])
    t.match(lone.message, 'K2_CLIENT_ID: begins or ends with white space')
    t.match(lone.message, 'K2_CLIENT_SECRET: must be set together with K2_CLIENT_ID')
  }
})

t.test('empty values count as unset', async t => {
  t.equal(loadConfig({ PORT: '', K2_CLIENT_ID: '', K2_CLIENT_SECRET: '' }).port, 3000)
})

t.test('the README\'s Configuration table has a row for every variable, with its default', async t => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  const table = readme.slice(readme.indexOf('### Configuration'), readme.indexOf('### Logs')).split('\n').filter(line => line.startsWith('| `'))
  const variables = Object.entries(EnvSchema.properties as Record<string, { default?: unknown }>)
  t.equal(variables.length, 30, 'every variable is checked')
  for (const [name, schema] of variables) {
    const row = table.find(line => line.split('|')[1]!.includes(`\`${name}\``))
    if (row === undefined) {
      t.fail(`${name} has no row`)
      continue
    }
    // Empty defaults are described in words ("empty (none)").
    if (schema.default !== undefined && schema.default !== '') t.ok(row.includes(`\`${String(schema.default)}\``), `${name} defaults to ${String(schema.default)}`)
    else t.pass(`${name} has a row`)
  }
  for (const name of FILE_VARIABLES) t.ok(table.some(line => line.split('|')[1]!.includes(`\`${name}_FILE\``)), `${name}_FILE has a row`)
})

t.test('credentials and API keys can be read from files named by <NAME>_FILE', async t => {
  const dir = t.testdir({
    id: 'id-from-a-file\n',
    secret: '  secret-from-a-file-1234\r\n',
    keys: 'first-key-from-a-file-01\n\n  second-key-from-a-file-02  \r\nthird-key-from-a-file-03,fourth-key-from-a-file-04\n'
  })
  const config = loadConfig({ K2_CLIENT_ID_FILE: `${dir}/id`, K2_CLIENT_SECRET_FILE: `${dir}/secret`, API_KEYS_FILE: `${dir}/keys` })
  t.same(config.upstream.credentials, { clientId: 'id-from-a-file', clientSecret: 'secret-from-a-file-1234' }, 'surrounding white space dropped')
  t.equal(config.upstream.mode, 'kopokopo')
  t.same(config.apiKeys, ['first-key-from-a-file-01', 'second-key-from-a-file-02', 'third-key-from-a-file-03', 'fourth-key-from-a-file-04'], 'a key a line, or comma-separated')
  // One from a file, one from the environment: they still make a pair.
  t.same(loadConfig({ K2_CLIENT_ID: 'id-for-tests', K2_CLIENT_SECRET_FILE: `${dir}/secret` }).upstream.credentials,
    { clientId: 'id-for-tests', clientSecret: 'secret-from-a-file-1234' })
  // An empty _FILE is unset, as any empty variable.
  t.equal(loadConfig({ ...creds, K2_CLIENT_SECRET_FILE: '' }).upstream.credentials?.clientSecret, 'secret-for-tests-1234')
})

t.test('a secret file that cannot be used stops start-up, naming its variable and never its contents', async t => {
  const cwd = process.cwd()
  const dir = t.testdir({
    secret: 'secret-in-the-file-1234\n',
    empty: ' \n',
    keys: 'a-long-enough-key-0001\nshort-in-file\n',
    folder: {},
    huge: 'k'.repeat(64 * 1024 + 1)
  })
  const err = errorOf({
    K2_CLIENT_SECRET: 'secret-in-the-env-1234',
    K2_CLIENT_SECRET_FILE: `${dir}/secret`,
    K2_CLIENT_ID_FILE: `${dir}/empty`,
    API_KEYS_FILE: `${dir}/keys`
  })
  t.same(err.variables.sort(), ['API_KEYS_FILE', 'K2_CLIENT_ID_FILE', 'K2_CLIENT_SECRET_FILE'])
  t.match(err.message, 'K2_CLIENT_SECRET_FILE: set either K2_CLIENT_SECRET or K2_CLIENT_SECRET_FILE, not both')
  t.match(err.message, `K2_CLIENT_ID_FILE: "${dir}/empty" is empty`)
  t.match(err.message, 'API_KEYS_FILE: in the file: each key must be at least 16 characters without spaces')
  for (const secret of ['secret-in-the-file', 'secret-in-the-env', 'short-in-file', 'a-long-enough-key']) t.notMatch(err.message, secret)

  const unread = errorOf({ K2_CLIENT_ID: 'id-for-tests', K2_CLIENT_SECRET_FILE: `${dir}/missing` })
  t.same(unread.variables, ['K2_CLIENT_SECRET_FILE'], 'and no complaint that the secret is unset')
  t.match(unread.message, `K2_CLIENT_SECRET_FILE: cannot read "${dir}/missing": there is no such file`)
  t.match(errorOf({ API_KEYS_FILE: `${dir}/keys/more` }).message, `API_KEYS_FILE: cannot read "${dir}/keys/more": a directory on its path is a file`)
  t.match(errorOf({ API_KEYS_FILE: `${dir}/keys` }, () => { throw Object.assign(new Error('denied'), { code: 'EACCES' }) }).message,
    `API_KEYS_FILE: cannot read "${dir}/keys": the service's user may not read it`)
  t.match(errorOf({ API_KEYS_FILE: `${dir}/keys` }, () => { throw Object.assign(new Error('odd'), { code: 'EIO' }) }).message,
    `API_KEYS_FILE: cannot read "${dir}/keys": EIO`)
  t.match(errorOf({ API_KEYS_FILE: `${dir}/folder` }).message, `API_KEYS_FILE: cannot read "${dir}/folder": it is not a regular file`)
  t.match(errorOf({ API_KEYS_FILE: `${dir}/huge` }).message, `API_KEYS_FILE: cannot read "${dir}/huge": it is over 65536 bytes, more than a secret`)
  // The secret itself, written where its path belongs, is not quoted back,
  // base64's / and + included, at the start or inside.
  for (const secret of ['the-secret-itself-1234', 'q8Zx/Lk2+9sPa0T7vM4rWnB3yHc=', '/q8ZxLk2+9sPa0T7vM4rWnB3yHc=', 'q8/Zx/Lk2+9sPa0=']) {
    const misplaced = errorOf({ K2_CLIENT_ID: 'id-for-tests', K2_CLIENT_SECRET_FILE: secret })
    t.equal(misplaced.message, 'Invalid configuration (1 variable):\n' +
      '  K2_CLIENT_SECRET_FILE: cannot read the file it names (not quoted, in case it is the secret itself): there is no such file')
    t.notMatch(misplaced.message, secret.slice(0, 8), 'not even its start')
  }
  // A file in the working directory may still be named without a /.
  process.chdir(dir)
  t.teardown(() => { process.chdir(cwd) })
  t.same(loadConfig({ K2_CLIENT_ID: 'id-for-tests', K2_CLIENT_SECRET_FILE: 'secret' }).upstream.credentials?.clientSecret, 'secret-in-the-file-1234')
  t.match(errorOf({ K2_CLIENT_ID: 'id-for-tests', K2_CLIENT_SECRET_FILE: 'empty' }).message,
    'K2_CLIENT_SECRET_FILE: the file it names (not quoted, in case it is the secret itself) is empty')
  t.match(errorOf({ API_KEYS_FILE: '/dev/zero' }).message, 'API_KEYS_FILE: cannot read "/dev/zero": it is not a regular file')
})
