// Password hashing behind one small module: Bun.password (argon2id) on Bun, the same PHC
// format through hash-wasm elsewhere (Deno), so hashes made by either verify on both.
import { argon2id, argon2Verify } from 'hash-wasm'

const ARGON2 = { memoryCost: 19_456, timeCost: 2 } as const

declare const Bun:
  | {
      password: {
        hash(p: string, o: object): Promise<string>
        verify(p: string, h: string): Promise<boolean>
      }
    }
  | undefined

export async function hashPassword(password: string): Promise<string> {
  if (typeof Bun !== 'undefined') return Bun.password.hash(password, { algorithm: 'argon2id', ...ARGON2 })
  return argon2id({
    password,
    salt: crypto.getRandomValues(new Uint8Array(16)),
    parallelism: 1,
    iterations: ARGON2.timeCost,
    memorySize: ARGON2.memoryCost,
    hashLength: 32,
    outputType: 'encoded',
  })
}

export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  try {
    if (typeof Bun !== 'undefined') return await Bun.password.verify(password, hash)
    return await argon2Verify({ password, hash })
  } catch {
    return false
  }
}

/** A hash of a random password, verified against when the user does not exist, so timing reveals nothing. */
let decoyHash: Promise<string> | undefined
export function decoyPasswordHash(): Promise<string> {
  decoyHash ??= hashPassword(crypto.randomUUID())
  return decoyHash
}
