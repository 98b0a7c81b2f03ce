// Idempotency-Key for requests that create something (POST /sessions): the first request with a
// key does the work and its answer is kept for a day; a repeat with the same key gets that
// answer again (a refusal too) instead of creating a second thing. A repeat that arrives while
// the first is still running is a 409, never a second run.
import { and, eq, lt } from 'drizzle-orm'
import type { AppContext } from '../context/index.ts'
import { idempotencyKeys } from '../db/schema/index.ts'
import { badRequest, conflict, type ErrorBody, HttpError } from '../errors.ts'

/** How long an answer is replayed for a repeated key. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000
const MAX_KEY_LENGTH = 255

export interface Answer {
  status: number
  body: unknown
  headers?: Record<string, string>
}

/** The header's key, or undefined when the request has none; a malformed key is a 400. */
export function idempotencyKey(request: Request): string | undefined {
  const raw = request.headers.get('idempotency-key')
  if (raw === null) return undefined
  const key = raw.trim()
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key))
    throw badRequest(
      `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} visible ASCII characters`,
      'Idempotency-Key',
    )
  return key
}

/**
 * Runs `work` once per (user, scope, key) within a day and replays its answer after. An HttpError
 * (a refusal) is kept as the answer too; any other failure frees the key so a retry can run.
 */
export async function once(
  ctx: AppContext,
  owner: { userId: number; scope: string; key: string | undefined },
  work: () => Promise<Answer>,
): Promise<Answer> {
  const { userId, scope, key } = owner
  if (key === undefined) return work()
  const where = and(
    eq(idempotencyKeys.userId, userId),
    eq(idempotencyKeys.scope, scope),
    eq(idempotencyKeys.key, key),
  )
  await ctx.db
    .delete(idempotencyKeys)
    .where(and(where, lt(idempotencyKeys.createdAt, new Date(ctx.now().getTime() - IDEMPOTENCY_TTL_MS))))
  const claimed = await ctx.db
    .insert(idempotencyKeys)
    .values({ userId, scope, key })
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key })
  if (claimed.length === 0) {
    const [first] = await ctx.db.select().from(idempotencyKeys).where(where)
    if (!first || first.status === null)
      throw conflict('A request with this Idempotency-Key is still being handled; retry in a moment')
    return { status: first.status, body: first.body, ...(first.headers ? { headers: first.headers } : {}) }
  }
  let answer: Answer
  try {
    answer = await work()
  } catch (error) {
    if (!(error instanceof HttpError) || error.status >= 500) {
      await ctx.db.delete(idempotencyKeys).where(where)
      throw error
    }
    answer = {
      status: error.status,
      body: error.toBody(),
      ...(error.headers ? { headers: error.headers } : {}),
    }
  }
  await ctx.db
    .update(idempotencyKeys)
    .set({ status: answer.status, body: answer.body, headers: answer.headers ?? null })
    .where(where)
  return answer
}

/** A kept refusal, thrown again so the one error renderer answers it as the first time. */
export function replayedError(answer: Answer): HttpError {
  const error = (answer.body as ErrorBody | null)?.error
  return new HttpError(
    answer.status,
    error?.message ?? 'Request refused',
    error?.type,
    error?.field,
    answer.headers,
  )
}
