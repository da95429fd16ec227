/**
 * The path of a request target, without its query. A client may send the
 * absolute form (`GET http://user:secret@host/path HTTP/1.1`, RFC 9112
 * §3.2.2), which Node passes on as it came and the router serves by its path:
 * the scheme and authority, userinfo included, are dropped here so that they
 * never reach a log line or an answer.
 */
export function targetPath (url: string): string {
  const start = url.charCodeAt(0) === 47 /* / */ ? 0 : pathStart(url)
  const query = url.indexOf('?', start)
  return start === -1 ? '/' : url.slice(start, query === -1 ? undefined : query)
}

function pathStart (url: string): number {
  const authority = url.indexOf('://')
  // The asterisk form (`OPTIONS *`) and anything else odd stay as they are.
  if (authority === -1) return 0
  const slash = url.indexOf('/', authority + 3)
  const query = url.indexOf('?', authority + 3)
  // No path before the query (`http://host?x=/y`): the path is `/`, as the router has it.
  return query !== -1 && (slash === -1 || query < slash) ? -1 : slash
}

// Longer paths are cut where they are shown (a log line, a 404's detail).
const MAX_SHOWN_PATH = 200

/** targetPath(), cut to a length fit for a log line or an answer. */
export function shownPath (url: string): string {
  const path = targetPath(url)
  return path.length > MAX_SHOWN_PATH ? `${path.slice(0, MAX_SHOWN_PATH)}…` : path
}
