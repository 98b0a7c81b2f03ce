// HTTP single-range parsing (RFC 9110 §14) for static files (http/static-file.ts: resumed agent
// downloads, the UI). Pure functions, so the edge cases (suffix ranges, past-the-end starts,
// multi-range requests) are unit-tested alone.

export interface ByteRange {
  start: number
  /** Inclusive, as in Content-Range. */
  end: number
}

/**
 * What to send for a Range header against a body of `size` bytes:
 * - `null`: serve the whole body (no header, a syntax we ignore, or several ranges, which a
 *   server may answer in full rather than as multipart);
 * - `'unsatisfiable'`: answer 416 with `Content-Range: bytes * /size`;
 * - a range: answer 206 with exactly those bytes.
 */
export function parseRange(header: string | null, size: number): ByteRange | 'unsatisfiable' | null {
  if (!header) return null
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (!match) return null
  const [, first = '', last = ''] = match
  if (first === '' && last === '') return null
  if (first === '') {
    const suffix = Number(last)
    if (suffix === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  if (start >= size) return 'unsatisfiable'
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1)
  if (end < start) return null
  return { start, end }
}

/** Whether an If-None-Match header names this ETag (weak comparison, as RFC 9110 asks). */
export function etagMatches(header: string | null, etag: string): boolean {
  if (!header) return false
  if (header.trim() === '*') return true
  const bare = (tag: string) => tag.trim().replace(/^W\//, '')
  return header.split(',').some((tag) => bare(tag) === bare(etag))
}

/** Whether If-Range allows a partial answer: absent, or the same (strong) ETag. */
export function ifRangeAllows(header: string | null, etag: string): boolean {
  if (!header) return true
  return header.trim() === etag && !etag.startsWith('W/')
}
