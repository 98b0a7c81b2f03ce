// Secret tokens for machines: 256-bit random values shown once, stored only as SHA-256 hashes.
// node:crypto works on Bun and Deno alike.
import { createHash, randomBytes } from 'node:crypto'

export const TOKEN_BYTES = 32

/** A fresh 256-bit token as 64 hex characters. */
export function newSecretToken(): string {
  return randomBytes(TOKEN_BYTES).toString('hex')
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}
