/**
 * Reads `.env` from the working directory when there is one. Node's own
 * reader: variables already in the environment win over the file.
 */
export function loadEnvFile (): void {
  try {
    process.loadEnvFile()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}
