import t from 'tap'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readSimulatorEnv } from '../../src/simulator/cli-config.js'

t.test('defaults: loopback, port 4010, the simulator pair, one-hour tokens', async (t) => {
  t.strictSame(readSimulatorEnv({}), {
    host: '127.0.0.1',
    port: 4010,
    clientId: 'simulator-client-id',
    clientSecret: 'simulator-client-secret',
    tokenTtlSeconds: 3600
  })
})

t.test('every variable is read; empty strings count as unset', async (t) => {
  t.strictSame(readSimulatorEnv({
    SIMULATOR_HOST: '0.0.0.0',
    SIMULATOR_PORT: '0',
    K2_CLIENT_ID: 'compose-id',
    K2_CLIENT_SECRET: 'compose-secret',
    SIMULATOR_TOKEN_TTL_SECONDS: '120'
  }), { host: '0.0.0.0', port: 0, clientId: 'compose-id', clientSecret: 'compose-secret', tokenTtlSeconds: 120 })
  t.match(readSimulatorEnv({ SIMULATOR_HOST: '', SIMULATOR_PORT: '', K2_CLIENT_ID: '', K2_CLIENT_SECRET: '' }), {
    host: '127.0.0.1', port: 4010, clientId: 'simulator-client-id'
  })
})

t.test('invalid numbers are all reported at once, by name', async (t) => {
  t.throws(() => readSimulatorEnv({ SIMULATOR_PORT: '65536', SIMULATOR_TOKEN_TTL_SECONDS: '1.5' }), {
    message: 'Invalid simulator configuration:\n' +
      '  SIMULATOR_PORT must be an integer from 0 to 65535, got "65536"\n' +
      '  SIMULATOR_TOKEN_TTL_SECONDS must be an integer from 1 to 31536000, got "1.5"'
  })
  for (const port of ['abc', '-1', '80 ', '0x10']) {
    t.throws(() => readSimulatorEnv({ SIMULATOR_PORT: port }), { message: /SIMULATOR_PORT/ }, port)
  }
  t.throws(() => readSimulatorEnv({ SIMULATOR_TOKEN_TTL_SECONDS: '0' }), { message: /SIMULATOR_TOKEN_TTL_SECONDS/ })
})

t.test('half a credential pair is refused without echoing the secret', async (t) => {
  const error = t.throws(() => readSimulatorEnv({ K2_CLIENT_SECRET: 'half-secret' })) as Error
  t.match(error.message, /K2_CLIENT_ID and K2_CLIENT_SECRET must be set together/)
  t.notMatch(error.message, /half-secret/)
  t.throws(() => readSimulatorEnv({ K2_CLIENT_ID: 'only-id' }), { message: /set together/ })
})

t.test('the client pair may come from files named by K2_CLIENT_ID_FILE and K2_CLIENT_SECRET_FILE, as the service reads it', async (t) => {
  const files: Record<string, string> = { '/run/secrets/k2_client_secret': 'secret-from-a-file\n' }
  const read = (path: string): string => {
    const text = files[path]
    if (text === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' })
    return text
  }
  t.match(readSimulatorEnv({ K2_CLIENT_ID: 'compose-id', K2_CLIENT_SECRET_FILE: '/run/secrets/k2_client_secret' }, read),
    { clientId: 'compose-id', clientSecret: 'secret-from-a-file' })
  // In a directory that exists, so that the path is quoted back as a real path is.
  const gone = join(tmpdir(), 'gone')
  const error = t.throws(() => readSimulatorEnv({ K2_CLIENT_ID: 'compose-id', K2_CLIENT_SECRET_FILE: gone }, read)) as Error
  t.match(error.message, `K2_CLIENT_SECRET_FILE: cannot read ${JSON.stringify(gone)}: there is no such file`)
  t.strictSame(readSimulatorEnv({ API_KEYS_FILE: '/run/secrets/gone' }, read), readSimulatorEnv({}), 'API keys are the service\'s, not read here')
})
