// Serves one file from disk as a web-standard Response with Content-Length, ETag, If-None-Match
// (304) and single Range requests (206/416), so an interrupted agent download can resume.
import { stat } from 'node:fs/promises'
import { fileBody } from './file-body.ts'
import { etagMatches, ifRangeAllows, parseRange } from './range.ts'

export interface FileToServe {
  path: string
  contentType: string
  /** Offered as the download's file name (binaries); scripts are shown inline. */
  attachmentName?: string
}

/** Size and modification time identify a build; cheap, and changes whenever a binary is rebuilt. */
function etagOf(size: number, mtimeMs: number): string {
  return `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`
}

/** The file's Response, or null when it does not exist (the caller words the 404). */
export async function fileResponse(request: Request, file: FileToServe): Promise<Response | null> {
  const info = await stat(file.path).catch(() => null)
  if (!info?.isFile()) return null
  const size = info.size
  const etag = etagOf(size, info.mtimeMs)
  const headers = new Headers({
    'content-type': file.contentType,
    etag,
    'accept-ranges': 'bytes',
    'last-modified': info.mtime.toUTCString(),
    // Binaries are rebuilt in place: clients may cache but must revalidate with the ETag.
    'cache-control': 'no-cache',
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
