// Downloads a file so that an interrupted transfer resumes: the bytes so far stay in
// `<dest>.part` and the next try asks only for the rest (Range, with If-Range naming the ETag
// they came from, so a file rebuilt meanwhile comes whole again). The SHA-256 is checked by the
// caller on the finished file.
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import {
  createReadStream,
  createWriteStream,
  existsSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'

export interface DownloadOptions {
  fetch?: typeof fetch
  signal?: AbortSignal
  /** Tries before giving up; each after the first resumes. */
  attempts?: number
  /** Called as bytes arrive: so far, and the total when known. */
  onProgress?: (bytes: number, total: number | undefined) => void
}

interface PartMeta {
  url: string
  etag?: string
}

function readMeta(path: string): PartMeta | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as PartMeta
  } catch {
    return undefined
  }
}

async function attempt(url: string, part: string, metaPath: string, options: DownloadOptions): Promise<void> {
  const meta = readMeta(metaPath)
  const have = meta?.url === url && existsSync(part) ? statSync(part).size : 0
  const headers: Record<string, string> = {}
  if (have > 0) {
    headers.range = `bytes=${have}-`
    if (meta?.etag) headers['if-range'] = meta.etag
  }
  const res = await (options.fetch ?? fetch)(url, {
    headers,
    ...(options.signal ? { signal: options.signal } : {}),
  })
  if (res.status === 416 && have > 0) {
    // What we hold is not a prefix of the file any more (or is all of it): start over.
    await res.body?.cancel()
    rmSync(part, { force: true })
    rmSync(metaPath, { force: true })
    throw new Error('the partial download no longer matches the file on the server')
  }
  if (res.status !== 200 && res.status !== 206) {
    const text = (await res.text().catch(() => '')).slice(0, 300)
    throw new Error(`the server answered ${res.status}${text ? `: ${text}` : ''}`)
  }
  const resumed = res.status === 206
  const etag = res.headers.get('etag') ?? undefined
  writeFileSync(metaPath, JSON.stringify({ url, ...(etag ? { etag } : {}) } satisfies PartMeta))
  const length = Number(res.headers.get('content-length') ?? Number.NaN)
  const total = Number.isFinite(length) ? (resumed ? have : 0) + length : undefined
  const out = createWriteStream(part, { flags: resumed ? 'a' : 'w' })
  let bytes = resumed ? have : 0
  try {
    if (!res.body) throw new Error('the server sent no body')
    const reader = res.body.getReader()
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      const chunk = r.value
      if (!out.write(chunk)) await once(out, 'drain')
      bytes += chunk.byteLength
      options.onProgress?.(bytes, total)
    }
  } finally {
    out.end()
    await once(out, 'close')
  }
  if (total !== undefined && bytes !== total)
    throw new Error(`the transfer ended after ${bytes} of ${total} bytes`)
}

/** Downloads `url` to `dest` (resuming a `.part` left by an earlier try); throws with the last error. */
export async function downloadResumable(
  url: string,
  dest: string,
  options: DownloadOptions = {},
): Promise<void> {
  const part = `${dest}.part`
  const metaPath = `${dest}.part.json`
  const attempts = options.attempts ?? 3
  let last: Error | undefined
  for (let i = 0; i < attempts; i++) {
    if (options.signal?.aborted) throw new Error('the download was cancelled')
    try {
      await attempt(url, part, metaPath, options)
      renameSync(part, dest)
      rmSync(metaPath, { force: true })
      return
    } catch (err) {
      last = err as Error
    }
  }
  throw new Error(`download of ${url} failed: ${last?.message ?? 'unknown error'}`)
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}
