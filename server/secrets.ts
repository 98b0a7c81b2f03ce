// Derives purpose-specific keys from the operator's secrets with HKDF, so the cookie-signing,
// proxy-token-signing and encryption keys are independent even though they share one root.
import { createHash, hkdfSync } from 'node:crypto'
import type { Config } from './config.ts'

export type KeyPurpose = 'cookie-signing' | 'proxy-token-signing' | 'api-key-encryption'

/** 32 bytes for one purpose. */
export function deriveKey(root: Uint8Array, purpose: KeyPurpose): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', root, 'open-ace-remote-workspace', `open-ace/${purpose}/v1`, 32))
}

/** The root every derived key starts from: SECRET_KEY, hashed to a fixed length. */
export function secretRoot(config: Pick<Config, 'secretKey'>): Uint8Array {
  return new Uint8Array(createHash('sha256').update(config.secretKey).digest())
}

export function hexKey(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

/** The secret Elysia signs cookies with (the app's `cookie.secrets`). */
export function cookieSigningSecret(config: Pick<Config, 'secretKey'>): string {
  return hexKey(deriveKey(secretRoot(config), 'cookie-signing'))
}
