// Agent configuration: environment > config.json in the agent's directory > defaults, each
// value checked with TypeBox so a bad one stops start-up with an error naming its key.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ISOLATION_MODES } from './isolation.ts'
import { DEFAULT_TERMINAL_IDLE_SECONDS } from './terminal/terminal-host.ts'

export const CONFIG_FILE = 'config.json'
/** Owner read/write only: the file holds the agent token. */
const CONFIG_FILE_MODE = 0o600
export const DEFAULT_AGENT_DIR = join(homedir(), '.open-ace-agent')

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type AgentLogLevel = (typeof LOG_LEVELS)[number]
export const TRANSPORT_MODES = ['auto', 'websocket', 'long-poll'] as const
export type TransportMode = (typeof TRANSPORT_MODES)[number]

/** Seconds, up to a day. */
const seconds = (min: number, def: number) => Type.Number({ minimum: min, maximum: 86_400, default: def })
const literals = <T extends readonly string[]>(values: T, def: NoInfer<T[number]>) =>
  Type.Union(
    values.map((v: T[number]) => Type.Literal(v)),
    { default: def },
  )

/** Every setting: its config.json key, its environment variable (if any), and its schema with its default. */
const FIELDS = {
  server_url: {
    env: 'OPENACE_SERVER_URL',
    schema: Type.String({ pattern: '^https?://[^\\s]+$', default: '' }),
  },
  agent_token: { env: 'OPENACE_AGENT_TOKEN', schema: Type.String({ default: '' }) },
  /** One-time token; removed from config.json once registration succeeds. */
  registration_token: { env: undefined, schema: Type.String({ default: '' }) },
  /** The server's version of agent_token: a rotation is applied only when newer. */
  agent_token_version: { env: undefined, schema: Type.Integer({ minimum: 0, default: 0 }) },
  machine_id: {
    env: 'OPENACE_MACHINE_ID',
    schema: Type.String({ pattern: '^([A-Za-z0-9][A-Za-z0-9._:-]{0,127})?$', default: '' }),
  },
  machine_name: { env: undefined, schema: Type.String({ maxLength: 200, default: '' }) },
  cli_tool: { env: undefined, schema: Type.String({ maxLength: 100, default: '' }) },
  /** Seconds between heartbeats until the server's welcome says otherwise. */
  heartbeat_interval: { env: 'OPENACE_HEARTBEAT_INTERVAL', schema: seconds(1, 30) },
  /** Seconds; reconnect delays grow from base to max with full jitter. */
  reconnect_base_delay: { env: 'OPENACE_RECONNECT_BASE_DELAY', schema: seconds(0.05, 1) },
  reconnect_max_delay: { env: 'OPENACE_RECONNECT_MAX_DELAY', schema: seconds(0.05, 60) },
  max_sessions: {
    env: 'OPENACE_MAX_SESSIONS',
    schema: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
  },
  log_level: { env: 'OPENACE_LOG_LEVEL', schema: literals(LOG_LEVELS, 'info') },
  log_max_bytes: { env: undefined, schema: Type.Integer({ minimum: 10_000, default: 10 * 1024 * 1024 }) },
  /** 'auto' tries WebSocket first and falls back to long-poll. */
  transport: { env: 'OPENACE_AGENT_TRANSPORT', schema: literals(TRANSPORT_MODES, 'auto') },
  /** Empty: the home directory. */
  work_dir: { env: 'OPENACE_WORK_DIR', schema: Type.String({ default: '' }) },
  /** Seconds a terminal nobody watches keeps running. */
  terminal_idle_timeout: {
    env: 'OPENACE_TERMINAL_IDLE_TIMEOUT',
    schema: seconds(1, DEFAULT_TERMINAL_IDLE_SECONDS),
  },
  /** Directories fs.list and session project paths are confined to (empty: work_dir and home). */
  fs_roots: { env: undefined, schema: Type.Array(Type.String(), { default: [] }) },
  /** 'auto': sandbox every CLI with the strongest isolation that works here; 'none': do not. */
  isolation: { env: 'OPENACE_ISOLATION', schema: literals(ISOLATION_MODES, 'auto') },
  /** Unprivileged OS user CLIs run as when the agent runs as root and no sandbox works. */
  run_as: {
    env: 'OPENACE_RUN_AS',
    schema: Type.String({ pattern: '^([a-z_][a-z0-9_.-]{0,31})?$', default: '' }),
  },
  /** Seconds a self-updated binary has to come online before the previous one is put back. */
  update_rollback_timeout: { env: 'OPENACE_UPDATE_ROLLBACK_TIMEOUT', schema: seconds(1, 60) },
} as const satisfies Record<string, { env: string | undefined; schema: TSchema }>

/** Every setting as [config.json key, environment variable or undefined]; agent/README.md lists each. */
export const AGENT_SETTINGS: readonly (readonly [string, string | undefined])[] = Object.entries(FIELDS).map(
  ([key, field]) => [key, field.env] as const,
)

type FieldKey = keyof typeof FIELDS

/** The settings' types, read from their schemas, and the directory they were loaded from. */
export type AgentConfig = { -readonly [K in FieldKey]: Static<(typeof FIELDS)[K]['schema']> } & {
  /** The directory holding config.json, logs, the output spool and state.json. */
  dir: string
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

function readConfigFile(dir: string): Record<string, unknown> {
  const path = join(dir, CONFIG_FILE)
  if (!existsSync(path)) return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (cause) {
    throw new ConfigError(`${path} is not valid JSON: ${(cause as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${path} must hold a JSON object`)
  }
  return parsed as Record<string, unknown>
}

/**
 * Environment values are strings, converted to the setting's type by TypeBox (Value.Convert).
 * Convert reads "2.5" or "1e3" as an integer by cutting it short; such a value stays as written,
 * so the check refuses it instead.
 */
function fromEnv(schema: TSchema, raw: string): unknown {
  if (schema.type === 'integer' && !/^\s*-?\d+\s*$/.test(raw)) return raw
  return Value.Convert(schema, raw)
}

/** Loads and validates the configuration of the agent living in `dir`. */
export function loadAgentConfig(dir: string, env: Record<string, string | undefined>): AgentConfig {
  const file = readConfigFile(dir)
  const out: Record<string, unknown> = { dir }
  for (const [key, field] of Object.entries(FIELDS) as [FieldKey, (typeof FIELDS)[FieldKey]][]) {
    const envRaw = field.env ? env[field.env] : undefined
    const [value, source] =
      envRaw !== undefined
        ? [fromEnv(field.schema, envRaw), `environment variable ${field.env}`]
        : key in file
          ? [file[key], `"${key}" in ${join(dir, CONFIG_FILE)}`]
          : [Value.Default(field.schema, undefined), undefined]
    if (source && !Value.Check(field.schema, value)) {
      const detail = Value.Errors(field.schema, value).First()?.message ?? 'is invalid'
      const shown = key.includes('token') ? '' : ` (got ${JSON.stringify(envRaw ?? value)})`
      throw new ConfigError(`Invalid ${source}: ${detail}${shown}`)
    }
    out[key] = value
  }
  const config = out as unknown as AgentConfig
  if (config.reconnect_max_delay < config.reconnect_base_delay) {
    throw new ConfigError('reconnect_max_delay must not be smaller than reconnect_base_delay')
  }
  if (!config.work_dir) config.work_dir = homedir()
  if (config.fs_roots.length === 0) config.fs_roots = [...new Set([config.work_dir, homedir()])]
  return config
}

/**
 * Updates config.json: merges `changes` into the file's object (keys set to undefined are
 * removed) and writes it atomically with a JSON encoder, readable by the owner only.
 */
export function updateConfigFile(dir: string, changes: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const next: Record<string, unknown> = { ...readConfigFile(dir) }
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete next[k]
    else next[k] = v
  }
  const path = join(dir, CONFIG_FILE)
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: CONFIG_FILE_MODE })
  chmodSync(tmp, CONFIG_FILE_MODE)
  renameSync(tmp, path)
}
