// Secret tokens (browser sessions, agent and registration tokens): 256-bit random values shown
// once, stored only as SHA-256 hashes, presented as `Authorization: Bearer`. One hashToken and
// one bearerToken for users and agents alike; node:crypto works on Bun and Deno.
import { createHash, randomBytes } from 'node:crypto'

export const TOKEN_BYTES = 32

/** A fresh 256-bit token as 64 hex characters. */
export function newSecretToken(): string {
  return randomBytes(TOKEN_BYTES).toString('hex')
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(request: Request): string | null {
  const header = request.headers.get('authorization')
  const match = header?.match(/^Bearer\s+(.+?)\s*$/i)
  return match?.[1] ?? null
}
