import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { loadEnvFile } from '../src/env-file.js'

async function envFile (t: Test, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'k2-bff-env-file-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, '.env')
  await writeFile(path, text)
  return path
}

t.test('the environment wins over the file, unless set empty', async t => {
  const path = await envFile(t, 'PORT=4000\nHOST=0.0.0.0\nLOG_LEVEL=debug\n')
  const env: NodeJS.ProcessEnv = { PORT: '5000', HOST: '' }
  loadEnvFile(env, path)
  t.same(env, { PORT: '5000', HOST: '0.0.0.0', LOG_LEVEL: 'debug' })
})

t.test('a credential given in the environment in either form wins over the file\'s other form', async t => {
  const path = await envFile(t, 'K2_CLIENT_ID=id-from-dotenv\nK2_CLIENT_SECRET=secret-from-dotenv\nAPI_KEYS_FILE=/from/dotenv\n')
  const env: NodeJS.ProcessEnv = { K2_CLIENT_SECRET_FILE: '/run/secrets/k2_client_secret', API_KEYS: 'a-key-from-the-environment' }
  loadEnvFile(env, path)
  t.same(env, {
    K2_CLIENT_ID: 'id-from-dotenv',
    K2_CLIENT_SECRET_FILE: '/run/secrets/k2_client_secret',
    API_KEYS: 'a-key-from-the-environment'
  })
})

t.test('both forms in the file are both read, for the configuration to refuse', async t => {
  const path = await envFile(t, 'K2_CLIENT_SECRET=secret-from-dotenv\nK2_CLIENT_SECRET_FILE=/from/dotenv\n')
  const env: NodeJS.ProcessEnv = {}
  loadEnvFile(env, path)
  t.same(env, { K2_CLIENT_SECRET: 'secret-from-dotenv', K2_CLIENT_SECRET_FILE: '/from/dotenv' })
})

t.test('no file, nothing read', async t => {
  const env: NodeJS.ProcessEnv = { PORT: '1' }
  loadEnvFile(env, join(tmpdir(), 'k2-bff-no-such-dir', '.env'))
  t.same(env, { PORT: '1' })
})
