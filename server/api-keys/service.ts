// The API key store: admin operations (create, list masked, enable/disable, delete; all audited)
// and the proxy's hot-path lookup, which keeps decrypted keys in memory per server instance and
// drops them on a cross-instance NOTIFY whenever any key changes.
import { asc, eq, inArray } from 'drizzle-orm'
import type { Actor } from '../audit/service.ts'
import type { AppContext } from '../context/index.ts'
import { type ApiKeyStatus, apiKeyStore, type LlmProvider } from '../db/schema/index.ts'
import { badRequest, HttpError, notFound } from '../errors.ts'
import { maskApiKey, openApiKey, sealApiKey } from './crypto.ts'
import { upstreamRefusal } from './upstream-address.ts'

export const KEYS_CHANGED_CHANNEL = 'llm_api_keys_changed'
/** Backstop for a missed NOTIFY: decrypted keys are re-read at least this often. */
const KEY_CACHE_TTL_MS = 30_000

type KeyRow = typeof apiKeyStore.$inferSelect

export interface ProviderKey {
  id: number
  keyName: string
  apiKey: string
  baseUrl: string | null
}

export function publicApiKey(row: KeyRow) {
  return {
    id: row.id,
    provider: row.provider,
    key_name: row.keyName,
    masked_key: row.hint,
    base_url: row.baseUrl,
    status: row.status,
    created_at: row.createdAt.toISOString(),
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
  }
}

/** http(s) only, no credentials or query in it, trailing slashes dropped. */
export function normalizeBaseUrl(value: string | null | undefined): string | null {
  if (value === undefined || value === null || value.trim() === '') return null
  let url: URL
  try {
    url = new URL(value.trim())
  } catch {
    throw badRequest('base_url must be an absolute http(s) URL', 'base_url')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw badRequest('base_url must use http or https', 'base_url')
  if (url.username || url.password) throw badRequest('base_url must not contain credentials', 'base_url')
  if (url.search || url.hash) throw badRequest('base_url must not contain a query or fragment', 'base_url')
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '')
}

/** normalizeBaseUrl plus the operator's rule on private and metadata addresses. */
async function checkedBaseUrl(ctx: AppContext, value: string | null | undefined): Promise<string | null> {
  const url = normalizeBaseUrl(value)
  const refusal = url ? await upstreamRefusal(ctx.config.llmProxy.privateUpstreams, url) : null
  if (refusal) throw badRequest(refusal, 'base_url')
  return url
}

export async function listApiKeys(ctx: AppContext) {
  const rows = await ctx.db.select().from(apiKeyStore).orderBy(asc(apiKeyStore.id))
  return rows.map(publicApiKey)
}

async function keysChanged(ctx: AppContext) {
  ctx.state.apiKeys.current = undefined
  await ctx.database.notify(KEYS_CHANGED_CHANNEL, '')
}

export interface CreateApiKeyInput {
  provider: LlmProvider
  keyName: string
  apiKey: string
  baseUrl?: string | null
}

export async function createApiKey(ctx: AppContext, actor: Actor, input: CreateApiKeyInput) {
  const apiKey = input.apiKey.trim()
  if (!apiKey) throw badRequest('api_key must not be empty', 'api_key')
  const baseUrl = await checkedBaseUrl(ctx, input.baseUrl)
  const sealed = await sealApiKey(ctx, apiKey)
  const [row] = await ctx.db
    .insert(apiKeyStore)
    .values({
      provider: input.provider,
      keyName: input.keyName,
      ...sealed,
      hint: maskApiKey(apiKey),
      baseUrl,
      createdBy: actor.type === 'user' && actor.id != null ? Number(actor.id) : null,
    })
    .onConflictDoNothing()
    .returning()
  if (!row) {
    await ctx.audit(
      'api_key.create',
      actor,
      null,
      { provider: input.provider, key_name: input.keyName },
      { outcome: 'failure' },
    )
    throw new HttpError(
      409,
      `A ${input.provider} key named '${input.keyName}' already exists`,
      'conflict',
      'key_name',
    )
  }
  await keysChanged(ctx)
  await ctx.audit(
    'api_key.create',
    actor,
    { type: 'api_key', id: row.id, name: row.keyName },
    { provider: row.provider, key_name: row.keyName, base_url: baseUrl },
  )
  return publicApiKey(row)
}

export async function updateApiKey(
  ctx: AppContext,
  actor: Actor,
  id: number,
  input: { status?: ApiKeyStatus; baseUrl?: string | null; keyName?: string },
) {
  const patch: Partial<KeyRow> = { updatedAt: ctx.now() }
  if (input.status !== undefined) patch.status = input.status
  if (input.baseUrl !== undefined) patch.baseUrl = await checkedBaseUrl(ctx, input.baseUrl)
  if (input.keyName !== undefined) patch.keyName = input.keyName
  let row: KeyRow | undefined
  try {
    ;[row] = await ctx.db.update(apiKeyStore).set(patch).where(eq(apiKeyStore.id, id)).returning()
  } catch (error) {
    if (sqlState(error) === UNIQUE_VIOLATION)
      throw new HttpError(
        409,
        `Another key of this provider is named '${input.keyName}'`,
        'conflict',
        'key_name',
      )
    throw error
  }
  if (!row) throw notFound('API key')
  await keysChanged(ctx)
  await ctx.audit(
    'api_key.update',
    actor,
    { type: 'api_key', id, name: row.keyName },
    { status: input.status, base_url: patch.baseUrl, key_name: input.keyName },
  )
  return publicApiKey(row)
}

const UNIQUE_VIOLATION = '23505'
const sqlState = (error: unknown) => String((error as { cause?: { code?: unknown } } | null)?.cause?.code)

/** One stored key by id, decrypted, whatever its status (for a key test); `refusal` when its
 * base_url is not allowed. */
export async function storedKey(ctx: AppContext, id: number) {
  const [row] = await ctx.db.select().from(apiKeyStore).where(eq(apiKeyStore.id, id)).limit(1)
  if (!row) throw notFound('API key')
  const refusal = row.baseUrl
    ? await upstreamRefusal(ctx.config.llmProxy.privateUpstreams, row.baseUrl)
    : null
  const key: ProviderKey = {
    id: row.id,
    keyName: row.keyName,
    apiKey: await openApiKey(ctx, row),
    baseUrl: row.baseUrl,
  }
  return { provider: row.provider, key, refusal }
}

export async function deleteApiKey(ctx: AppContext, actor: Actor, id: number) {
  const [row] = await ctx.db.delete(apiKeyStore).where(eq(apiKeyStore.id, id)).returning()
  if (!row) throw notFound('API key')
  await keysChanged(ctx)
  await ctx.audit(
    'api_key.delete',
    actor,
    { type: 'api_key', id, name: row.keyName },
    { provider: row.provider, key_name: row.keyName },
  )
}

/** Records that keys served requests; called from the usage ledger's batched flush. */
export async function touchApiKeys(ctx: AppContext, ids: number[], at: Date) {
  if (ids.length) await ctx.db.update(apiKeyStore).set({ lastUsedAt: at }).where(inArray(apiKeyStore.id, ids))
}

interface KeyCache {
  loaded: number
  byProvider: Promise<Map<LlmProvider, ProviderKey[]>>
}

/** The decrypted enabled keys on this instance, dropped on a change anywhere (ctx.state.apiKeys). */
export interface ApiKeyCache {
  current: KeyCache | undefined
}

export function createApiKeyCache(ctx: AppContext): ApiKeyCache {
  const holder: ApiKeyCache = { current: undefined }
  ctx.onClose(() => {
    holder.current = undefined
  })
  ctx.database
    .listen(KEYS_CHANGED_CHANNEL, () => {
      holder.current = undefined
    })
    .then((unlisten) => ctx.onClose(unlisten))
    .catch((cause) => ctx.log.warn('cannot listen for API key changes', { error: cause }))
  return holder
}

async function loadEnabledKeys(ctx: AppContext): Promise<Map<LlmProvider, ProviderKey[]>> {
  const rows = await ctx.db
    .select()
    .from(apiKeyStore)
    .where(eq(apiKeyStore.status, 'enabled'))
    .orderBy(asc(apiKeyStore.id))
  const out = new Map<LlmProvider, ProviderKey[]>()
  for (const row of rows) {
    const apiKey = await openApiKey(ctx, row).catch((cause) => {
      ctx.log.error('cannot decrypt stored API key (was the encryption key changed?)', {
        key_id: row.id,
        error: cause,
      })
      return null
    })
    if (apiKey === null) continue
    const refusal = row.baseUrl
      ? await upstreamRefusal(ctx.config.llmProxy.privateUpstreams, row.baseUrl)
      : null
    if (refusal) {
      ctx.log.error('stored API key not used: its base_url is not allowed', {
        key_id: row.id,
        reason: refusal,
      })
      continue
    }
    const list = out.get(row.provider) ?? []
    list.push({ id: row.id, keyName: row.keyName, apiKey, baseUrl: row.baseUrl })
    out.set(row.provider, list)
  }
  return out
}

/** Enabled keys of one provider, oldest first (the first is the default), decrypted and cached. */
export async function providerKeys(ctx: AppContext, provider: LlmProvider): Promise<ProviderKey[]> {
  const holder = ctx.state.apiKeys
  const now = ctx.now().getTime()
  let cache = holder.current
  if (!cache || now - cache.loaded > KEY_CACHE_TTL_MS) {
    const loading: KeyCache = { loaded: now, byProvider: loadEnabledKeys(ctx) }
    cache = loading
    holder.current = loading
    loading.byProvider.catch(() => {
      if (holder.current === loading) holder.current = undefined
    })
  }
  return (await cache.byProvider).get(provider) ?? []
}
