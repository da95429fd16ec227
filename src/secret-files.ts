import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname } from 'node:path'

// Docker and Kubernetes hand secrets to a container as files. Unlike the
// environment, a file is not shown by `docker inspect`, inherited by every
// child process or readable in /proc/<pid>/environ by anything running as the
// same user, so each variable that holds a credential may instead name a file
// holding it: K2_CLIENT_SECRET_FILE=/run/secrets/k2_client_secret.
export const FILE_VARIABLES = ['K2_CLIENT_ID', 'K2_CLIENT_SECRET', 'API_KEYS'] as const

// A secret is a line or a few; anything larger is a wrong path (a log, a disk).
const MAX_BYTES = 64 * 1024

const REASONS: Record<string, string> = {
  ENOENT: 'there is no such file',
  EACCES: 'the service\'s user may not read it',
  ENOTDIR: 'a directory on its path is a file'
}

/** Reads a secret file as text; throws with a reason that never quotes what is in it. */
export type ReadSecretFile = (path: string) => string

export const readSecretFile: ReadSecretFile = path => {
  // Checked first: a FIFO or a device (/dev/zero) would hold start-up forever.
  const stats = statSync(path)
  if (!stats.isFile()) throw new Error('it is not a regular file')
  if (stats.size > MAX_BYTES) throw new Error(`it is over ${MAX_BYTES} bytes, more than a secret`)
  return readFileSync(path, 'utf8')
}

// An operator may put the secret itself where its path belongs, and a base64
// secret holds a / about half the time. A value is quoted back only when the
// directory it names exists, as a real path's does and a secret's first part
// does not; never when that is / or the working directory, which any value
// with only a leading / or none at all names.
const UNQUOTED = 'the file it names (not quoted, in case it is the secret itself)'
const shown = (path: string): string => {
  const parent = dirname(path)
  return parent !== '/' && parent !== '.' && existsSync(parent) ? JSON.stringify(path) : UNQUOTED
}

/**
 * The environment with each `<NAME>_FILE` read into `<NAME>`. Surrounding
 * white space goes (an editor's or `echo`'s final newline); API_KEYS_FILE
 * holds its keys one per line or comma-separated. A problem is reported under
 * the `_FILE` variable, never with the file's contents.
 */
export function withSecretFiles (source: Record<string, string | undefined>, problems: Map<string, string>,
  read: ReadSecretFile = readSecretFile, names: readonly string[] = FILE_VARIABLES): Record<string, string | undefined> {
  const env = { ...source }
  for (const name of names) {
    const fileVariable = `${name}_FILE`
    const path = source[fileVariable]
    if (path === undefined || path === '') continue
    if (source[name] !== undefined && source[name] !== '') {
      problems.set(fileVariable, `set either ${name} or ${fileVariable}, not both`)
      continue
    }
    let text: string
    try {
      text = read(path)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      const why = code === undefined ? (err as Error).message : REASONS[code] ?? code
      problems.set(fileVariable, `cannot read ${shown(path)}: ${why}`)
      continue
    }
    const value = name === 'API_KEYS' ? text.split(/[\r\n]+/).map(line => line.trim()).filter(line => line !== '').join(',') : text.trim()
    if (value === '') problems.set(fileVariable, `${shown(path)} is empty`)
    else env[name] = value
  }
  return env
}
