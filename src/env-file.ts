import { lstatSync, readFileSync, statSync } from 'node:fs'
import { parseEnv } from 'node:util'
import { FILE_VARIABLES } from './secret-files.js'

const ENV_FILE = '.env'

/** A `.env` that is there but cannot be used: start-up stops rather than run without it. */
export class EnvFileError extends Error {
  constructor (why: string) {
    super(`Cannot read ${ENV_FILE} in the working directory: ${why}. Fix it, or remove it to use the environment alone.`)
    this.name = 'EnvFileError'
  }
}

// A credential and the `_FILE` variable naming a file that holds it are one
// setting: the environment's, in either form, wins over the file's.
const PARTNERS = new Map(FILE_VARIABLES.flatMap(name => [[name, `${name}_FILE`], [`${name}_FILE`, name]]))

/**
 * Reads `.env` (`path`, in the working directory) into `env` when there is
 * one; variables already in the environment, and not empty, win over the
 * file, as does a credential's other form (so that an operator who moves a
 * secret from `.env` into a file named by its `_FILE` variable is not told to
 * set only one of them). Read here
 * rather than with process.loadEnvFile(): on Node 20 that reports a file it
 * may not read as missing (ENOENT), so production could silently start on the
 * defaults (the built-in simulator among them), and a directory as a bare
 * stack trace.
 */
export function loadEnvFile (env: NodeJS.ProcessEnv = process.env, path = ENV_FILE): void {
  let text: string
  try {
    const stats = statSync(path, { throwIfNoEntry: false })
    if (stats === undefined) {
      // A link to nothing is a file someone meant to be read, not an absent one.
      if (lstatSync(path, { throwIfNoEntry: false }) === undefined) return
      throw new EnvFileError('it is a symbolic link to nothing')
    }
    // A FIFO would block start-up; a directory has nothing to read.
    if (!stats.isFile()) throw new EnvFileError(stats.isDirectory() ? 'it is a directory' : 'it is not a regular file')
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if (err instanceof EnvFileError) throw err
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error'
    throw new EnvFileError(code === 'EACCES' || code === 'EPERM' ? `permission denied (${code})` : code)
  }
  // Node's own parser, the one process.loadEnvFile() uses. A variable set
  // empty counts as unset (config.ts), so the file's value stands for it.
  // Judged on the environment as it came: both forms in the file are still
  // both set, and refused as such.
  const given = (name: string | undefined): boolean => name !== undefined && env[name] !== undefined && env[name] !== ''
  const fromFile = Object.entries(parseEnv(text)).filter(([name]) => !given(name) && !given(PARTNERS.get(name)))
  for (const [name, value] of fromFile) env[name] = value
}
