// LLM access: encrypted provider keys, the proxy tokens agents hold, quota limits, the proxy's
// usage ledger (the one that counts toward quota) and CLI-reported usage kept apart from it.
import {
  bigint,
  bigserial,
  boolean,
  customType,
  doublePrecision,
  index,
  integer,
  pgTable,
  primaryKey,
  serial,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'
import { belongsToUser, users } from './identity.ts'
import { sessions } from './sessions.ts'
import { createdAt, tz } from './timestamps.ts'

export const LLM_PROVIDERS = ['openai', 'anthropic', 'google'] as const
export type LlmProvider = (typeof LLM_PROVIDERS)[number]
export const API_KEY_STATUSES = ['enabled', 'disabled'] as const
export type ApiKeyStatus = (typeof API_KEY_STATUSES)[number]
export const QUOTA_SCOPES = ['user', 'tenant'] as const
export type QuotaScope = (typeof QUOTA_SCOPES)[number]

const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => new Uint8Array(value),
})

export const apiKeyStore = pgTable(
  'api_key_store',
  {
    id: serial('id').primaryKey(),
    provider: text('provider', { enum: LLM_PROVIDERS }).notNull(),
    keyName: text('key_name').notNull(),
    /** AES-256-GCM of the key (tag appended); never the key in clear. */
    ciphertext: bytea('ciphertext').notNull(),
    nonce: bytea('nonce').notNull(),
    /** Last four characters, kept so the list can be masked without decrypting. */
    hint: text('hint').notNull(),
    baseUrl: text('base_url'),
    status: text('status', { enum: API_KEY_STATUSES }).notNull().default('enabled'),
    createdBy: integer('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
    lastUsedAt: tz('last_used_at'),
  },
  (t) => [uniqueIndex('api_key_store_provider_name_idx').on(t.provider, t.keyName)],
)

export const proxyTokens = pgTable(
  'proxy_tokens',
  {
    jti: uuid('jti').primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    userId: belongsToUser(),
    machineId: text('machine_id'),
    tenantId: integer('tenant_id').notNull(),
    provider: text('provider', { enum: LLM_PROVIDERS }),
    issuedAt: createdAt(),
    expiresAt: tz('expires_at').notNull(),
    revokedAt: tz('revoked_at'),
  },
  (t) => [
    index('proxy_tokens_session_idx').on(t.sessionId),
    index('proxy_tokens_machine_idx').on(t.machineId),
  ],
)

export const quotaLimits = pgTable(
  'quota_limits',
  {
    id: serial('id').primaryKey(),
    scope: text('scope', { enum: QUOTA_SCOPES }).notNull(),
    /** A user id or a tenant id, depending on scope. */
    subjectId: integer('subject_id').notNull(),
    dailyTokenLimit: bigint('daily_token_limit', { mode: 'number' }),
    monthlyTokenLimit: bigint('monthly_token_limit', { mode: 'number' }),
    dailyRequestLimit: integer('daily_request_limit'),
    monthlyRequestLimit: integer('monthly_request_limit'),
    updatedAt: tz('updated_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('quota_limits_scope_subject_idx').on(t.scope, t.subjectId)],
)

export const quotaUsage = pgTable(
  'quota_usage',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    ts: tz('ts').notNull().defaultNow(),
    userId: integer('user_id').notNull(),
    tenantId: integer('tenant_id').notNull(),
    sessionId: uuid('session_id'),
    machineId: text('machine_id'),
    provider: text('provider', { enum: LLM_PROVIDERS }).notNull(),
    model: text('model'),
    apiKeyId: integer('api_key_id'),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    /** Identical requests within one flush interval share a row; tokens and latency are sums. */
    requests: integer('requests').notNull().default(1),
    latencyMs: integer('latency_ms').notNull().default(0),
    status: integer('status').notNull(),
    /** The answer carried no usage fields: the tokens are the proxy's estimate. */
    estimated: boolean('estimated').notNull().default(false),
  },
  (t) => [
    index('quota_usage_user_ts_idx').on(t.userId, t.ts),
    index('quota_usage_session_idx').on(t.sessionId),
    // The all-users usage views read a time range across users.
    index('quota_usage_ts_idx').on(t.ts),
  ],
)

/** What a model costs, per million tokens, input and output apart (admin-set; USD). */
export const PRICE_CURRENCY = 'USD' as const
export const modelPrices = pgTable(
  'model_prices',
  {
    id: serial('id').primaryKey(),
    provider: text('provider', { enum: LLM_PROVIDERS }).notNull(),
    /** The model id as the provider's usage reports it (what the ledger's `model` holds). */
    model: text('model').notNull(),
    inputPerMillion: doublePrecision('input_per_million').notNull(),
    outputPerMillion: doublePrecision('output_per_million').notNull(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
    updatedBy: integer('updated_by').references(() => users.id, { onDelete: 'set null' }),
  },
  (t) => [uniqueIndex('model_prices_provider_model_idx').on(t.provider, t.model)],
)

/**
 * Running quota totals per user and period (day or month), the shared budget every instance
 * reserves against: `reserved` holds what instances lease (calls in flight, their settled but
 * unsynced usage, and budget leased for later calls), `tokens` what synced calls used; with a
 * request limit, `requests` counts made and leased requests. Leases are taken in a locked
 * transaction and never oversell the limit (server/quota/service.ts).
 */
export const quotaCounters = pgTable(
  'quota_counters',
  {
    userId: integer('user_id').notNull(),
    period: text('period', { enum: ['day', 'month'] }).notNull(),
    startsAt: tz('starts_at').notNull(),
    tokens: bigint('tokens', { mode: 'number' }).notNull().default(0),
    reserved: bigint('reserved', { mode: 'number' }).notNull().default(0),
    requests: integer('requests').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.userId, t.period, t.startsAt] })],
)

/**
 * What one server instance holds in a quota counter's `reserved` (tokens) and `requests` (leased,
 * not yet used), written with every change to the counter and kept alive by the instance's
 * heartbeat: once `expires_at` passes (the instance died without giving its leases back), the
 * next reservation on that counter, or any other instance's sweep, subtracts it and deletes the
 * row (server/quota/leases.ts).
 */
export const quotaLeases = pgTable(
  'quota_leases',
  {
    instanceId: text('instance_id').notNull(),
    userId: integer('user_id').notNull(),
    period: text('period', { enum: ['day', 'month'] }).notNull(),
    startsAt: tz('starts_at').notNull(),
    tokens: bigint('tokens', { mode: 'number' }).notNull().default(0),
    requests: integer('requests').notNull().default(0),
    expiresAt: tz('expires_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.instanceId, t.userId, t.period, t.startsAt] }),
    index('quota_leases_counter_idx').on(t.userId, t.period, t.startsAt),
    index('quota_leases_expires_idx').on(t.expiresAt),
  ],
)

export const QUOTA_WARNING_LIMITS = ['tokens', 'requests'] as const
export type QuotaWarningLimit = (typeof QUOTA_WARNING_LIMITS)[number]

/**
 * The 80% warnings given (server/quota/warnings.ts): one row per user, period and limit, so the
 * warning is given once per period however many instances see the calls that pass it.
 */
export const quotaWarnings = pgTable(
  'quota_warnings',
  {
    userId: belongsToUser(),
    period: text('period', { enum: ['day', 'month'] }).notNull(),
    startsAt: tz('starts_at').notNull(),
    limit: text('limit', { enum: QUOTA_WARNING_LIMITS }).notNull(),
    /** The session whose call passed the mark (it got the warning). */
    sessionId: uuid('session_id'),
    warnedAt: tz('warned_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.period, t.startsAt, t.limit] })],
)

export const usageReports = pgTable(
  'usage_reports',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    reportId: text('report_id').notNull(),
    machineId: text('machine_id').notNull(),
    sessionId: uuid('session_id').notNull(),
    userId: integer('user_id'),
    tool: text('tool'),
    model: text('model'),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    requests: integer('requests').notNull().default(0),
    reportedAt: createdAt(),
  },
  (t) => [uniqueIndex('usage_reports_machine_report_idx').on(t.machineId, t.reportId)],
)
