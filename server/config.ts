// Reads and validates the server's environment once, at start-up, so every other module
// receives typed settings and a bad value fails loudly with the variable's name.

import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { parseExtraEndpoints } from './llm-proxy/endpoints.ts'
import { UPDATE_WINDOW_PATTERN } from './machines/update-window.ts'

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
/** Which non-public upstream addresses a key's base_url may point at (see llm-proxy/upstream-address.ts). */
export const PRIVATE_UPSTREAM_POLICIES = ['none', 'private', 'all'] as const
export type PrivateUpstreamPolicy = (typeof PRIVATE_UPSTREAM_POLICIES)[number]

/** enabled: everyone may sign in with a password; break-glass-only: only BREAK_GLASS_ADMIN may. */
export const PASSWORD_LOGIN_MODES = ['enabled', 'break-glass-only'] as const
export type PasswordLoginMode = (typeof PASSWORD_LOGIN_MODES)[number]
/** A comma-separated list of non-empty entries. */
const LIST_PATTERN = '^\\s*[^,\\s]+(\\s*,\\s*[^,\\s]+)*\\s*$'

const EnvSchema = Type.Object({
  NODE_ENV: Type.Optional(Type.String()),
  HOST: Type.String({ default: '0.0.0.0' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 5000 }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATA_DIR: Type.String({ default: './data', minLength: 1 }),
  SECRET_KEY: Type.Optional(Type.String({ minLength: 16 })),
  OPENACE_ENCRYPTION_KEY: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$' })),
  OPENACE_ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  ALLOWED_HOSTS: Type.Optional(
    Type.String({ pattern: '^[A-Za-z0-9.:\\[\\]_-]+(\\s*,\\s*[A-Za-z0-9.:\\[\\]_-]+)*$' }),
  ),
  LOG_LEVEL: Type.Union(
    LOG_LEVELS.map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  TRUST_PROXY: Type.Boolean({ default: false }),
  AUTH_SESSION_TTL_SECONDS: Type.Integer({ minimum: 60, default: 7 * 24 * 3600 }),
  AUTH_SESSION_PURGE_INTERVAL_SECONDS: Type.Integer({ minimum: 1, default: 3600 }),
  LOGIN_MAX_FAILURES_PER_USER_IP: Type.Integer({ minimum: 1, default: 5 }),
  LOGIN_MAX_FAILURES_PER_IP: Type.Integer({ minimum: 1, default: 20 }),
  LOGIN_USER_BACKOFF_AFTER: Type.Integer({ minimum: 1, default: 10 }),
  LOGIN_USER_BACKOFF_MAX_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 5000 }),
  LOGIN_RATE_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 15 * 60 }),
  AGENT_DIST_DIR: Type.Optional(Type.String({ minLength: 1 })),
  REGISTRATION_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 60, default: 24 * 3600 }),
  REGISTRATION_MAX_PER_IP: Type.Integer({ minimum: 1, default: 60 }),
  REGISTRATION_RATE_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 10 * 60 }),
  AGENT_HEARTBEAT_INTERVAL_SECONDS: Type.Integer({ minimum: 1, default: 30 }),
  AGENT_LONG_POLL_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 55_000, default: 25_000 }),
  AGENT_OFFLINE_GRACE_MS: Type.Integer({ minimum: 0, default: 10_000 }),
  AGENT_HEARTBEAT_FLUSH_MS: Type.Integer({ minimum: 10, maximum: 10_000, default: 1000 }),
  ACCESS_CACHE_TTL_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 1000 }),
  PROXY_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 60, default: 4 * 3600 }),
  LLM_PROXY_MAX_BODY_BYTES: Type.Integer({ minimum: 1024, default: 10 * 1024 * 1024 }),
  API_MAX_BODY_BYTES: Type.Integer({ minimum: 1024, default: 1024 * 1024 }),
  SESSION_OUTPUT_MAX_MB: Type.Integer({ minimum: 1, default: 50 }),
  AGENT_OUTPUT_RATE_KB_PER_SECOND: Type.Integer({ minimum: 1, default: 2048 }),
  AGENT_OUTPUT_BURST_KB: Type.Integer({ minimum: 1, default: 8192 }),
  LLM_PROXY_EXTRA_ENDPOINTS: Type.Optional(Type.String()),
  LLM_PROXY_PRIVATE_UPSTREAMS: Type.Union(
    PRIVATE_UPSTREAM_POLICIES.map((l) => Type.Literal(l)),
    { default: 'none' },
  ),
  LLM_PROXY_FIRST_BYTE_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 120_000 }),
  LLM_PROXY_IDLE_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 300_000 }),
  LLM_PROXY_KEY_COOLDOWN_MS: Type.Integer({ minimum: 0, default: 30_000 }),
  LLM_PROXY_DEFAULT_RESERVE_TOKENS: Type.Integer({ minimum: 1, default: 4096 }),
  AGENT_MAX_CONNECTIONS: Type.Optional(Type.Integer({ minimum: 1 })),
  AGENT_FD_RESERVE: Type.Integer({ minimum: 0, default: 1000 }),
  OPEN_FILES_LIMIT_FALLBACK: Type.Integer({ minimum: 1, default: 10_240 }),
  AGENT_RETRY_AFTER_SECONDS: Type.Integer({ minimum: 1, default: 10 }),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  AGENT_TOKEN_ROTATION_GRACE_SECONDS: Type.Integer({ minimum: 0, default: 300 }),
  PAT_MAX_TTL_DAYS: Type.Integer({ minimum: 1, maximum: 3650, default: 365 }),
  AGENT_AUTO_UPDATE: Type.Boolean({ default: true }),
  AGENT_UPDATE_WINDOW: Type.Optional(Type.String({ pattern: UPDATE_WINDOW_PATTERN })),
  AGENT_UPDATE_CHECK_INTERVAL_SECONDS: Type.Integer({ minimum: 1, default: 60 }),
  OIDC_ISSUER_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  OIDC_CLIENT_ID: Type.Optional(Type.String({ minLength: 1 })),
  OIDC_CLIENT_SECRET: Type.Optional(Type.String({ minLength: 1 })),
  OIDC_PROVIDER_NAME: Type.String({ minLength: 1, maxLength: 64, default: 'SSO' }),
  OIDC_SCOPES: Type.String({ pattern: '(^|\\s)openid(\\s|$)', default: 'openid email profile' }),
  OIDC_ALLOWED_EMAIL_DOMAINS: Type.Optional(Type.String({ pattern: LIST_PATTERN })),
  OIDC_GROUPS_CLAIM: Type.String({ minLength: 1, default: 'groups' }),
  OIDC_REQUIRED_GROUP: Type.Optional(Type.String({ minLength: 1 })),
  OIDC_ADMIN_GROUPS: Type.Optional(Type.String({ pattern: LIST_PATTERN })),
  OIDC_TENANT_CLAIM: Type.Optional(Type.String({ minLength: 1 })),
  OIDC_DEFAULT_TENANT: Type.Optional(Type.String({ minLength: 1 })),
  OIDC_LINK_BY_EMAIL: Type.Boolean({ default: false }),
  PASSWORD_LOGIN: Type.Union(
    PASSWORD_LOGIN_MODES.map((l) => Type.Literal(l)),
    { default: 'enabled' },
  ),
  BREAK_GLASS_ADMIN: Type.String({ minLength: 1, default: 'admin' }),
})

/** Every environment variable the server reads (the schema's keys); README and .env.example list each. */
export const SERVER_ENV_KEYS: readonly string[] = Object.keys(EnvSchema.properties)

type Env = Static<typeof EnvSchema>

export interface Config {
  production: boolean
  host: string
  port: number
  databaseUrl: string | undefined
  dataDir: string
  secretKey: string
  /** Where the secret came from: the environment, or generated and kept in DATA_DIR (dev only). */
  secretKeySource: 'env' | 'data-dir'
  encryptionKeyHex: string | undefined
  adminPassword: string | undefined
  publicUrl: string | undefined
  /** Host values (host or host:port) trusted besides loopback when PUBLIC_URL is not set. */
  allowedHosts: string[]
  logLevel: LogLevel
  trustProxy: boolean
  authSessionTtlSeconds: number
  /** How often rows of expired login sessions are deleted. */
  authSessionPurgeIntervalSeconds: number
  /**
   * Login throttling: failures per (username, address) and per address before that address gets
   * 429; failures of a username from all addresses before attempts on it are slowed, and the cap.
   */
  login: {
    maxFailuresPerUserIp: number
    maxFailuresPerIp: number
    userBackoffAfter: number
    userBackoffMaxMs: number
    windowSeconds: number
  }
  /** Where the prebuilt agent binaries and SHA256SUMS are served from (`bun run build:agent` output). */
  agentDistDir: string
  /** The agent channel: registration token lifetime, heartbeat, long-poll hold, disconnect grace. */
  /** How long the chat fast path trusts a cached login or standing (access/cache.ts); 0: never. */
  accessCacheTtlMs: number
  agentChannel: {
    registrationTokenTtlSeconds: number
    /** Registration attempts (accepted or refused) one address may make per window before 429. */
    registrationMaxPerIp: number
    registrationRateWindowSeconds: number
    heartbeatIntervalSeconds: number
    longPollTimeoutMs: number
    offlineGraceMs: number
    /** Heartbeats are batched in memory and written in one UPDATE this often. */
    heartbeatFlushMs: number
  }
  /** Lifetime of a proxy token; agents renew it over the channel while the session lives. */
  proxyTokenTtlSeconds: number
  /** Largest request body the LLM proxy forwards (413 above it). */
  llmProxyMaxBodyBytes: number
  /** Largest JSON body the rest of the API takes (413 above it, before it is buffered). */
  apiMaxBodyBytes: number
  /** Output one session keeps stored; beyond it the oldest is dropped, leaving a notice. */
  sessionOutputMaxBytes: number
  /** Session output one agent may send per second (and in one burst) before its frames wait. */
  agentOutput: { rateBytesPerSecond: number; burstBytes: number }
  llmProxy: {
    /** Endpoints opened on top of the built-in allowlist ("provider METHOD /path", comma-separated). */
    extraEndpoints: string | undefined
    /** none: public upstreams only; private: loopback and private ranges too; all: link-local and metadata too. */
    privateUpstreams: PrivateUpstreamPolicy
    /** No response headers from an upstream within this long: the next key gets the call. */
    firstByteTimeoutMs: number
    /** No bytes for this long while the answer streams: the call is ended (and counted as 504). */
    idleTimeoutMs: number
    /** A key that failed (timeout, connection error, 429, 5xx, key-specific 4xx) is tried last this long. */
    keyCooldownMs: number
    /** Tokens reserved against quota for a call that does not say max_tokens. */
    defaultReserveTokens: number
  }
  /** Agent admission: explicit cap, or open-file limit minus the reserve; Retry-After base when full. */
  agentAdmission: {
    maxConnections: number | undefined
    fdReserve: number
    openFilesLimitFallback: number
    retryAfterSeconds: number
  }
  /** Bearer token that may read GET /metrics (besides a logged-in system admin). */
  metricsToken: string | undefined
  /** After a rotation, how long the old agent token keeps working once it is used again. */
  agentTokenRotationGraceSeconds: number
  /** The longest lifetime a personal access token may be given. */
  patMaxTtlDays: number
  /** Agent self-update (server/updates/): automatic offers, their window, how often idle machines are checked. */
  agentUpdates: {
    auto: boolean
    /** 'HH:MM-HH:MM' UTC, or undefined: any time. */
    window: string | undefined
    checkIntervalSeconds: number
  }
  /** OpenID Connect sign-in; undefined when OIDC_ISSUER_URL is not set. */
  oidc: OidcConfig | undefined
  /** Who may sign in with a password: everyone, or only the break-glass administrator. */
  passwordLogin: { mode: PasswordLoginMode; breakGlassAdmin: string }
}

export interface OidcConfig {
  issuerUrl: string
  clientId: string
  /** Unset: a public client (PKCE only, no client authentication). */
  clientSecret: string | undefined
  /** Shown on the login page's button: "Sign in with <name>". */
  providerName: string
  scopes: string
  /** Lower-case domains a verified e-mail must belong to; empty: any. */
  allowedEmailDomains: string[]
  /** The claim holding the user's groups (an array or one string). */
  groupsClaim: string
  /** A group the user must be in to sign in at all. */
  requiredGroup: string | undefined
  /** Members of any of these groups are created as system administrators. */
  adminGroups: string[]
  /** The claim naming the tenant a new user is created in. */
  tenantClaim: string | undefined
  /** The tenant (by name) new users go to without a tenant claim; unset: the first tenant. */
  defaultTenant: string | undefined
  /** Whether a first sign-in may take over the local user with the same verified e-mail. */
  linkByEmail: boolean
}

/** The build output of `bun run build:agent`, found from this file so any working directory works. */
const DEFAULT_AGENT_DIST_DIR = fileURLToPath(new URL('../dist/agent', import.meta.url))

export class ConfigError extends Error {}

/** Operator spellings of a boolean that TypeBox's Value.Convert does not read (it takes true/false/1/0). */
const YES_NO: Record<string, boolean> = { yes: true, no: false }

/**
 * Turns the environment's strings into the schema's types with Value.Convert; an empty value is
 * unset. Convert reads "1.5" or "1e3" as an integer by cutting it short, so such a value stays
 * as written and the check names it; anything else unparsable is left for the check too.
 */
function fromEnvironment(raw: Record<string, string | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, schema] of Object.entries(EnvSchema.properties) as Array<[string, TSchema]>) {
    const value = raw[key]
    if (value === undefined || value === '') continue
    if (schema.type === 'integer' && !/^\s*-?\d+\s*$/.test(value)) out[key] = value
    else if (schema.type === 'boolean') out[key] = Value.Convert(schema, YES_NO[value.toLowerCase()] ?? value)
    else out[key] = Value.Convert(schema, value)
  }
  return out
}

export interface LoadConfigOptions {
  /** Called with start-up warnings (dev-mode fallbacks); defaults to console.warn. */
  warn?: (message: string) => void
}

export function loadConfig(
  raw: Record<string, string | undefined> = process.env,
  options: LoadConfigOptions = {},
): Config {
  const warn = options.warn ?? ((m: string) => console.warn(m))
  const candidate = Value.Default(EnvSchema, fromEnvironment(raw))
  const first = Value.Errors(EnvSchema, candidate).First()
  if (first) {
    const key = first.path.replace(/^\//, '')
    throw new ConfigError(`Invalid environment variable ${key}: ${first.message}`)
  }
  const env = candidate as Env
  try {
    parseExtraEndpoints(env.LLM_PROXY_EXTRA_ENDPOINTS)
  } catch (error) {
    throw new ConfigError(
      `Invalid environment variable LLM_PROXY_EXTRA_ENDPOINTS: ${(error as Error).message}`,
    )
  }
  const oidc = oidcConfig(env)
  if (env.PASSWORD_LOGIN === 'break-glass-only' && !oidc) {
    throw new ConfigError(
      'PASSWORD_LOGIN=break-glass-only needs OIDC_ISSUER_URL and OIDC_CLIENT_ID: nobody but the break-glass administrator could sign in',
    )
  }
  const production = env.NODE_ENV === 'production'
  const dataDir = resolve(env.DATA_DIR)

  let secretKey = env.SECRET_KEY
  let secretKeySource: Config['secretKeySource'] = 'env'
  if (!secretKey) {
    if (production) {
      throw new ConfigError(
        'SECRET_KEY is required in production (NODE_ENV=production). Generate one with: openssl rand -hex 32',
      )
    }
    secretKey = readOrCreateDevSecret(dataDir)
    secretKeySource = 'data-dir'
    warn(
      `SECRET_KEY is not set; using a development secret kept in ${join(dataDir, 'secret-key')}. Set SECRET_KEY in production.`,
    )
  }

  return {
    production,
    host: env.HOST,
    port: env.PORT,
    databaseUrl: env.DATABASE_URL,
    dataDir,
    secretKey,
    secretKeySource,
    encryptionKeyHex: env.OPENACE_ENCRYPTION_KEY?.toLowerCase(),
    adminPassword: env.OPENACE_ADMIN_PASSWORD,
    publicUrl: env.PUBLIC_URL?.replace(/\/+$/, ''),
    allowedHosts: (env.ALLOWED_HOSTS ?? '')
      .split(',')
      .map((host) => host.trim().toLowerCase())
      .filter(Boolean),
    logLevel: env.LOG_LEVEL,
    trustProxy: env.TRUST_PROXY,
    authSessionTtlSeconds: env.AUTH_SESSION_TTL_SECONDS,
    authSessionPurgeIntervalSeconds: env.AUTH_SESSION_PURGE_INTERVAL_SECONDS,
    login: {
      maxFailuresPerUserIp: env.LOGIN_MAX_FAILURES_PER_USER_IP,
      maxFailuresPerIp: env.LOGIN_MAX_FAILURES_PER_IP,
      userBackoffAfter: env.LOGIN_USER_BACKOFF_AFTER,
      userBackoffMaxMs: env.LOGIN_USER_BACKOFF_MAX_MS,
      windowSeconds: env.LOGIN_RATE_WINDOW_SECONDS,
    },
    agentDistDir: env.AGENT_DIST_DIR ? resolve(env.AGENT_DIST_DIR) : DEFAULT_AGENT_DIST_DIR,
    accessCacheTtlMs: env.ACCESS_CACHE_TTL_MS,
    agentChannel: {
      registrationTokenTtlSeconds: env.REGISTRATION_TOKEN_TTL_SECONDS,
      registrationMaxPerIp: env.REGISTRATION_MAX_PER_IP,
      registrationRateWindowSeconds: env.REGISTRATION_RATE_WINDOW_SECONDS,
      heartbeatIntervalSeconds: env.AGENT_HEARTBEAT_INTERVAL_SECONDS,
      longPollTimeoutMs: env.AGENT_LONG_POLL_TIMEOUT_MS,
      offlineGraceMs: env.AGENT_OFFLINE_GRACE_MS,
      heartbeatFlushMs: env.AGENT_HEARTBEAT_FLUSH_MS,
    },
    proxyTokenTtlSeconds: env.PROXY_TOKEN_TTL_SECONDS,
    llmProxyMaxBodyBytes: env.LLM_PROXY_MAX_BODY_BYTES,
    apiMaxBodyBytes: env.API_MAX_BODY_BYTES,
    sessionOutputMaxBytes: env.SESSION_OUTPUT_MAX_MB * 1024 * 1024,
    agentOutput: {
      rateBytesPerSecond: env.AGENT_OUTPUT_RATE_KB_PER_SECOND * 1024,
      burstBytes: env.AGENT_OUTPUT_BURST_KB * 1024,
    },
    llmProxy: {
      extraEndpoints: env.LLM_PROXY_EXTRA_ENDPOINTS,
      privateUpstreams: env.LLM_PROXY_PRIVATE_UPSTREAMS,
      firstByteTimeoutMs: env.LLM_PROXY_FIRST_BYTE_TIMEOUT_MS,
      idleTimeoutMs: env.LLM_PROXY_IDLE_TIMEOUT_MS,
      keyCooldownMs: env.LLM_PROXY_KEY_COOLDOWN_MS,
      defaultReserveTokens: env.LLM_PROXY_DEFAULT_RESERVE_TOKENS,
    },
    agentAdmission: {
      maxConnections: env.AGENT_MAX_CONNECTIONS,
      fdReserve: env.AGENT_FD_RESERVE,
      openFilesLimitFallback: env.OPEN_FILES_LIMIT_FALLBACK,
      retryAfterSeconds: env.AGENT_RETRY_AFTER_SECONDS,
    },
    metricsToken: env.METRICS_TOKEN,
    patMaxTtlDays: env.PAT_MAX_TTL_DAYS,
    agentTokenRotationGraceSeconds: env.AGENT_TOKEN_ROTATION_GRACE_SECONDS,
    agentUpdates: {
      auto: env.AGENT_AUTO_UPDATE,
      window: env.AGENT_UPDATE_WINDOW,
      checkIntervalSeconds: env.AGENT_UPDATE_CHECK_INTERVAL_SECONDS,
    },
    oidc,
    passwordLogin: { mode: env.PASSWORD_LOGIN, breakGlassAdmin: env.BREAK_GLASS_ADMIN },
  }
}

const splitList = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)

/** Plain http is for a provider on this machine only: tokens and codes cross that connection. */
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i

function oidcConfig(env: Env): OidcConfig | undefined {
  if (!env.OIDC_ISSUER_URL) {
    const stray = (['OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET'] as const).find((key) => env[key])
    if (stray) throw new ConfigError(`${stray} is set but OIDC_ISSUER_URL is not`)
    return undefined
  }
  if (!env.OIDC_CLIENT_ID) throw new ConfigError('OIDC_ISSUER_URL is set but OIDC_CLIENT_ID is not')
  const issuer = new URL(env.OIDC_ISSUER_URL)
  if (issuer.protocol === 'http:' && !LOOPBACK_HOST.test(issuer.hostname)) {
    throw new ConfigError(
      'Invalid environment variable OIDC_ISSUER_URL: use https (plain http only for a provider on loopback)',
    )
  }
  return {
    issuerUrl: env.OIDC_ISSUER_URL,
    clientId: env.OIDC_CLIENT_ID,
    clientSecret: env.OIDC_CLIENT_SECRET,
    providerName: env.OIDC_PROVIDER_NAME,
    scopes: env.OIDC_SCOPES,
    allowedEmailDomains: splitList(env.OIDC_ALLOWED_EMAIL_DOMAINS).map((d) =>
      d.toLowerCase().replace(/^@/, ''),
    ),
    groupsClaim: env.OIDC_GROUPS_CLAIM,
    requiredGroup: env.OIDC_REQUIRED_GROUP,
    adminGroups: splitList(env.OIDC_ADMIN_GROUPS),
    tenantClaim: env.OIDC_TENANT_CLAIM,
    defaultTenant: env.OIDC_DEFAULT_TENANT,
    linkByEmail: env.OIDC_LINK_BY_EMAIL,
  }
}

/** A dev secret that survives restarts, so stored API keys stay decryptable between runs. */
function readOrCreateDevSecret(dataDir: string): string {
  const file = join(dataDir, 'secret-key')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  mkdirSync(dataDir, { recursive: true })
  const secret = randomBytes(32).toString('hex')
  writeFileSync(file, `${secret}\n`, { mode: 0o600 })
  chmodSync(file, 0o600)
  return secret
}
