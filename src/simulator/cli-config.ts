import { readSecretFile, withSecretFiles, type ReadSecretFile } from '../secret-files.js'
import { DEFAULT_TOKEN_TTL_SECONDS } from './state.js'
import { SIMULATOR_CREDENTIALS } from './seed.js'
import type { StartSimulatorOptions } from './app.js'

export const DEFAULT_SIMULATOR_PORT = 4010

export type SimulatorCliConfig = Required<Pick<StartSimulatorOptions, 'host' | 'port' | 'clientId' | 'clientSecret' | 'tokenTtlSeconds'>>

// The standalone simulator's environment. Every problem is reported at once,
// naming the variable; a secret's value is never echoed. The client pair is
// read as the service reads it, from the file a `_FILE` variable names too,
// so that both see the same pair however it is given.
export function readSimulatorEnv (given: Record<string, string | undefined>, read: ReadSecretFile = readSecretFile): SimulatorCliConfig {
  const fileProblems = new Map<string, string>()
  const env = withSecretFiles(given, fileProblems, read, ['K2_CLIENT_ID', 'K2_CLIENT_SECRET'])
  const problems = [...fileProblems].map(([name, why]) => `${name}: ${why}`)
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]
    if (raw === undefined || raw === '') return fallback
    const value = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN
    if (value >= min && value <= max) return value
    problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`)
    return fallback
  }

  const port = integer('SIMULATOR_PORT', DEFAULT_SIMULATOR_PORT, 0, 65535)
  const tokenTtlSeconds = integer('SIMULATOR_TOKEN_TTL_SECONDS', DEFAULT_TOKEN_TTL_SECONDS, 1, 31_536_000)
  // Compose files often pass unset variables as empty strings.
  const clientId = env.K2_CLIENT_ID || undefined
  const clientSecret = env.K2_CLIENT_SECRET || undefined
  if ((clientId === undefined) !== (clientSecret === undefined)) {
    problems.push('K2_CLIENT_ID and K2_CLIENT_SECRET must be set together, or both left unset to use the simulator\'s own pair')
  }
  if (problems.length > 0) {
    throw new Error(`Invalid simulator configuration:\n  ${problems.join('\n  ')}`)
  }
  return {
    host: env.SIMULATOR_HOST || '127.0.0.1',
    port,
    clientId: clientId ?? SIMULATOR_CREDENTIALS.clientId,
    clientSecret: clientSecret ?? SIMULATOR_CREDENTIALS.clientSecret,
    tokenTtlSeconds
  }
}
