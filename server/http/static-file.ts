// Serves one file from disk as a web-standard Response, for the UI and the downloads alike, with
// one set of rules: a strong ETag from size and modification time (changes whenever the file is
// rebuilt), If-None-Match (weak comparison, lists, *) answered 304, single Range requests 206/416
// guarded by If-Range, Last-Modified, Accept-Ranges, Content-Length, the caller's Cache-Control,
// the content type from the extension unless given, and HEAD without a body.
import { stat } from 'node:fs/promises'
import { extname } from 'node:path'
import { fileBody } from './file-body.ts'
import { etagMatches, ifRangeAllows, parseRange } from './range.ts'

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
}

export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream'
}

/** Size and modification time identify a build; cheap, and changes whenever a file is rebuilt. */
export function etagOf(size: number, mtimeMs: number): string {
  return `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`
}

export interface FileToServe {
  path: string
  /** Clients may cache; `no-cache` makes them revalidate with the ETag first. */
  cacheControl: string
  /** Else from the file's extension. */
  contentType?: string
  /** Offered as the download's file name (binaries); otherwise the file is shown inline. */
  attachmentName?: string
  /** Headers of the file's own (the UI's page policy). */
  headers?: Record<string, string>
}

/** The file's Response, or null when there is no such regular file (the caller words the 404). */
export async function serveFile(request: Request, file: FileToServe): Promise<Response | null> {
  const info = await stat(file.path).catch(() => null)
  if (!info?.isFile()) return null
  const size = info.size
  const etag = etagOf(size, info.mtimeMs)
  const headers = new Headers({
    ...file.headers,
    'content-type': file.contentType ?? contentTypeOf(file.path),
    etag,
    'accept-ranges': 'bytes',
    'last-modified': info.mtime.toUTCString(),
    'cache-control': file.cacheControl,
  })
  if (file.attachmentName) headers.set('content-disposition', `attachment; filename="${file.attachmentName}"`)

  if (etagMatches(request.headers.get('if-none-match'), etag)) {
    return new Response(null, { status: 304, headers })
  }

  const range = ifRangeAllows(request.headers.get('if-range'), etag)
    ? parseRange(request.headers.get('range'), size)
    : null
  if (range === 'unsatisfiable') {
    headers.delete('content-disposition')
    headers.set('content-range', `bytes */${size}`)
    headers.set('content-type', 'text/plain; charset=utf-8')
    const message = `Requested range is outside the file (${size} bytes)\n`
    headers.set('content-length', String(new TextEncoder().encode(message).length))
    return new Response(message, { status: 416, headers })
  }

  const start = range ? range.start : 0
  const end = range ? range.end : size - 1
  const length = end - start + 1
  headers.set('content-length', String(length))
  if (range) headers.set('content-range', `bytes ${start}-${end}/${size}`)
  const status = range ? 206 : 200
  if (request.method === 'HEAD' || length === 0) return new Response(null, { status, headers })
  return new Response(fileBody(file.path, start, end), { status, headers })
}
