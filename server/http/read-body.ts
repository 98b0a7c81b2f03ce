// Reading a request body under a byte limit, whether or not Content-Length is declared: a
// streamed body is counted as it arrives and cancelled at the limit, so memory stays bounded.

export class BodyTooLarge extends Error {}

/** The declared Content-Length, or NaN when there is none. */
export function declaredLength(request: Request): number {
  const header = request.headers.get('content-length')
  return header === null ? Number.NaN : Number(header)
}

/** The request body, refusing more than `max` bytes whether or not Content-Length says so. */
export async function readBodyLimited(
  request: Request,
  max: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  if (!request.body) return null
  if (declaredLength(request) > max) throw new BodyTooLarge()
  const parts: Uint8Array[] = []
  let size = 0
  const reader = request.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel().catch(() => {})
      throw new BodyTooLarge()
    }
    parts.push(value)
  }
  const out = new Uint8Array(size)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}
