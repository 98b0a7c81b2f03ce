// AES-256-GCM sealing of provider API keys with WebCrypto (so it runs on Bun and Deno alike). The
// data key is OPENACE_ENCRYPTION_KEY, else SHA-256 of SECRET_KEY (with a loud warning): rotating
// SECRET_KEY without OPENACE_ENCRYPTION_KEY makes stored keys unreadable.
import type { AppContext } from '../context/index.ts'

const NONCE_BYTES = 12

function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

/** The instance's data key (ctx.state.apiKeyDataKey), imported once. */
export async function createApiKeyDataKey(ctx: AppContext): Promise<CryptoKey> {
  let raw: Uint8Array<ArrayBuffer>
  if (ctx.config.encryptionKeyHex) raw = hexToBytes(ctx.config.encryptionKeyHex)
  else {
    ctx.log.warn(
      'OPENACE_ENCRYPTION_KEY is not set: API keys are encrypted with a key derived from SECRET_KEY. ' +
        'Changing SECRET_KEY will make every stored API key unreadable. Set OPENACE_ENCRYPTION_KEY (64 hex chars).',
    )
    raw = new Uint8Array(
      await crypto.subtle.digest('SHA-256', new TextEncoder().encode(ctx.config.secretKey)),
    )
  }
  return crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt'])
}

export interface Sealed {
  ciphertext: Uint8Array
  nonce: Uint8Array
}

/** Encrypts with a fresh random 96-bit nonce; the GCM tag travels at the end of the ciphertext. */
export async function sealApiKey(ctx: AppContext, plaintext: string): Promise<Sealed> {
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES))
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv: nonce },
    await ctx.state.apiKeyDataKey,
    new TextEncoder().encode(plaintext),
  )
  return { ciphertext: new Uint8Array(sealed), nonce }
}

export async function openApiKey(ctx: AppContext, sealed: Sealed): Promise<string> {
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: new Uint8Array(sealed.nonce) },
    await ctx.state.apiKeyDataKey,
    new Uint8Array(sealed.ciphertext),
  )
  return new TextDecoder().decode(plain)
}

/** `sk-…abcd`: enough to tell keys apart, never enough to use one. */
export function maskApiKey(key: string): string {
  const dash = key.indexOf('-')
  const prefix = dash > 0 && dash <= 4 ? key.slice(0, dash + 1) : ''
  return key.length >= 12 ? `${prefix}…${key.slice(-4)}` : `${prefix}…`
}
