// How each provider key has been doing on this instance: a key whose upstream timed out, could
// not be reached, or refused it (429, 5xx, an answer about the key itself) cools down for
// LLM_PROXY_KEY_COOLDOWN_MS and is tried after the healthy keys meanwhile. Admins see the state
// per key (GET /api/remote/api-keys/health).
import type { ProviderKey } from '../api-keys/service.ts'
import type { AppContext } from '../context/index.ts'

export interface KeyHealth {
  successes: number
  failures: number
  lastStatus: number | null
  lastError: string | null
  lastFailureAt: number | null
  lastSuccessAt: number | null
  coolingUntil: number
}

/** Per key id, on this instance (ctx.state.keyHealth). */
export type KeyHealthTable = Map<number, KeyHealth>

export const createKeyHealthTable = (): KeyHealthTable => new Map()

function entry(ctx: AppContext, keyId: number): KeyHealth {
  const all = ctx.state.keyHealth
  let h = all.get(keyId)
  if (!h) {
    h = {
      successes: 0,
      failures: 0,
      lastStatus: null,
      lastError: null,
      lastFailureAt: null,
      lastSuccessAt: null,
      coolingUntil: 0,
    }
    all.set(keyId, h)
  }
  return h
}

export function keyFailed(ctx: AppContext, keyId: number, status: number | null, error: string): void {
  const h = entry(ctx, keyId)
  const now = ctx.now().getTime()
  h.failures++
  h.lastStatus = status
  h.lastError = error
  h.lastFailureAt = now
  h.coolingUntil = now + ctx.config.llmProxy.keyCooldownMs
}

export function keySucceeded(ctx: AppContext, keyId: number, status: number): void {
  const h = entry(ctx, keyId)
  h.successes++
  h.lastStatus = status
  h.lastSuccessAt = ctx.now().getTime()
  h.coolingUntil = 0
}

/** The keys in the order to try them: healthy ones first (stored order), cooling ones last. */
export function keysInTryOrder(ctx: AppContext, keys: ProviderKey[]): ProviderKey[] {
  const all = ctx.state.keyHealth
  if (!all) return keys
  const now = ctx.now().getTime()
  const cooling = (k: ProviderKey) => (all.get(k.id)?.coolingUntil ?? 0) > now
  if (!keys.some(cooling)) return keys
  return [...keys.filter((k) => !cooling(k)), ...keys.filter(cooling)]
}

export function keyHealthView(ctx: AppContext, keyId: number) {
  const h = ctx.state.keyHealth.get(keyId)
  const now = ctx.now().getTime()
  const iso = (t: number | null | undefined) => (t ? new Date(t).toISOString() : null)
  return {
    state: h && h.coolingUntil > now ? ('cooling_down' as const) : ('healthy' as const),
    cooling_until: h && h.coolingUntil > now ? iso(h.coolingUntil) : null,
    successes: h?.successes ?? 0,
    failures: h?.failures ?? 0,
    last_status: h?.lastStatus ?? null,
    last_error: h?.lastError ?? null,
    last_failure_at: iso(h?.lastFailureAt),
    last_success_at: iso(h?.lastSuccessAt),
  }
}
