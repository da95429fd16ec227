import { lstatSync, readFileSync, statSync } from 'node:fs'
import { parseEnv } from 'node:util'

const ENV_FILE = '.env'

/** A `.env` that is there but cannot be used: start-up stops rather than run without it. */
export class EnvFileError extends Error {
  constructor (why: string) {
    super(`Cannot read ${ENV_FILE} in the working directory: ${why}. Fix it, or remove it to use the environment alone.`)
    this.name = 'EnvFileError'
  }
}

/**
 * Reads `.env` from the working directory when there is one; variables
 * already in the environment, and not empty, win over the file. Read here
 * rather than with process.loadEnvFile(): on Node 20 that reports a file it
 * may not read as missing (ENOENT), so production could silently start on the
 * defaults (the built-in simulator among them), and a directory as a bare
 * stack trace.
 */
export function loadEnvFile (): void {
  let text: string
  try {
    const stats = statSync(ENV_FILE, { throwIfNoEntry: false })
    if (stats === undefined) {
      // A link to nothing is a file someone meant to be read, not an absent one.
      if (lstatSync(ENV_FILE, { throwIfNoEntry: false }) === undefined) return
      throw new EnvFileError('it is a symbolic link to nothing')
    }
    // A FIFO would block start-up; a directory has nothing to read.
    if (!stats.isFile()) throw new EnvFileError(stats.isDirectory() ? 'it is a directory' : 'it is not a regular file')
    text = readFileSync(ENV_FILE, 'utf8')
  } catch (err) {
    if (err instanceof EnvFileError) throw err
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error'
    throw new EnvFileError(code === 'EACCES' || code === 'EPERM' ? `permission denied (${code})` : code)
  }
  // Node's own parser, the one process.loadEnvFile() uses. A variable set
  // empty counts as unset (config.ts), so the file's value stands for it.
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (process.env[name] === undefined || process.env[name] === '') process.env[name] = value
  }
}
