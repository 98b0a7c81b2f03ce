// A byte range of a file as a Response body. Bun only sends Content-Length (and uses sendfile) for
// a Bun.file body, not for a stream, so Bun gets a Bun.file slice; other runtimes (Deno) get a
// node:fs stream, which they send with the Content-Length header we set.
import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'

export function fileBody(path: string, start: number, end: number): BodyInit {
  const bun = (globalThis as { Bun?: typeof Bun }).Bun
  if (bun) return bun.file(path).slice(start, end + 1)
  // node:stream/web's ReadableStream is the DOM one at run time; only the type names differ.
  return Readable.toWeb(createReadStream(path, { start, end })) as unknown as ReadableStream<Uint8Array>
}
