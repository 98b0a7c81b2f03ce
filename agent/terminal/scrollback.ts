// A terminal's recent output, kept on the agent so a browser reload or a server restart
// reattaches to the same screen: a bounded list of chunks addressed by absolute byte offsets
// (offset 0 = the shell's first byte). Old chunks fall off whole, so memory stays bounded
// however much a command prints.

/** Default scrollback kept per terminal. */
export const SCROLLBACK_BYTES = 2 * 1024 * 1024

export class Scrollback {
  private chunks: Uint8Array[] = []
  private stored = 0
  /** Offset of the first byte still held. */
  start = 0

  constructor(private readonly limit = SCROLLBACK_BYTES) {}

  /** Offset just past the newest byte. */
  get end() {
    return this.start + this.stored
  }

  append(bytes: Uint8Array) {
    if (bytes.length === 0) return
    this.chunks.push(bytes)
    this.stored += bytes.length
    while (this.stored > this.limit && this.chunks.length > 1) {
      const dropped = this.chunks.shift() as Uint8Array
      this.stored -= dropped.length
      this.start += dropped.length
    }
  }

  /** Up to `max` bytes from `from` (clamped to what is held). */
  read(from: number, max: number): { offset: number; bytes: Uint8Array } {
    let offset = Math.max(from, this.start)
    const parts: Uint8Array[] = []
    let size = 0
    let pos = this.start
    for (const chunk of this.chunks) {
      const chunkEnd = pos + chunk.length
      if (chunkEnd > offset && size < max) {
        const part = chunk.subarray(
          Math.max(0, offset + size - pos),
          Math.min(chunk.length, offset + max - pos),
        )
        parts.push(part)
        size += part.length
      }
      pos = chunkEnd
      if (size >= max) break
    }
    if (parts.length === 1) return { offset, bytes: parts[0] as Uint8Array }
    const bytes = new Uint8Array(size)
    let at = 0
    for (const part of parts) {
      bytes.set(part, at)
      at += part.length
    }
    if (size === 0) offset = this.end
    return { offset, bytes }
  }
}
