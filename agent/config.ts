// Agent configuration: environment > config.json in the agent's directory > defaults, each
// value checked with TypeBox so a bad one stops start-up with an error naming its key.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { type TSchema, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ISOLATION_MODES, type IsolationMode } from './isolation.ts'
import { DEFAULT_TERMINAL_IDLE_SECONDS } from './terminal/terminal-host.ts'

export const CONFIG_FILE = 'config.json'
/** Owner read/write only: the file holds the agent token. */
const CONFIG_FILE_MODE = 0o600
export const DEFAULT_AGENT_DIR = join(homedir(), '.open-ace-agent')

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type AgentLogLevel = (typeof LOG_LEVELS)[number]
export const TRANSPORT_MODES = ['auto', 'websocket', 'long-poll'] as const
export type TransportMode = (typeof TRANSPORT_MODES)[number]

const seconds = (min: number) => Type.Number({ minimum: min, maximum: 86_400 })
const literals = <T extends readonly string[]>(values: T) => Type.Union(values.map((v) => Type.Literal(v)))

/** Every setting: its config.json key, its environment variable (if any), schema and default. */
const FIELDS = {
  server_url: { env: 'OPENACE_SERVER_URL', schema: Type.String({ pattern: '^https?://[^\\s]+$' }), def: '' },
  agent_token: { env: 'OPENACE_AGENT_TOKEN', schema: Type.String(), def: '' },
  registration_token: { env: undefined, schema: Type.String(), def: '' },
  agent_token_version: { env: undefined, schema: Type.Integer({ minimum: 0 }), def: 0 },
  machine_id: {
    env: 'OPENACE_MACHINE_ID',
    schema: Type.String({ pattern: '^([A-Za-z0-9][A-Za-z0-9._:-]{0,127})?$' }),
    def: '',
  },
  machine_name: { env: undefined, schema: Type.String({ maxLength: 200 }), def: '' },
  cli_tool: { env: undefined, schema: Type.String({ maxLength: 100 }), def: '' },
  heartbeat_interval: { env: 'OPENACE_HEARTBEAT_INTERVAL', schema: seconds(1), def: 30 },
  reconnect_base_delay: { env: 'OPENACE_RECONNECT_BASE_DELAY', schema: seconds(0.05), def: 1 },
  reconnect_max_delay: { env: 'OPENACE_RECONNECT_MAX_DELAY', schema: seconds(0.05), def: 60 },
  max_sessions: {
    env: 'OPENACE_MAX_SESSIONS',
    schema: Type.Integer({ minimum: 1, maximum: 1000 }),
    def: 5,
  },
  log_level: { env: 'OPENACE_LOG_LEVEL', schema: literals(LOG_LEVELS), def: 'info' },
  log_max_bytes: { env: undefined, schema: Type.Integer({ minimum: 10_000 }), def: 10 * 1024 * 1024 },
  transport: { env: 'OPENACE_AGENT_TRANSPORT', schema: literals(TRANSPORT_MODES), def: 'auto' },
  work_dir: { env: 'OPENACE_WORK_DIR', schema: Type.String(), def: '' },
  terminal_idle_timeout: {
    env: 'OPENACE_TERMINAL_IDLE_TIMEOUT',
    schema: seconds(1),
    def: DEFAULT_TERMINAL_IDLE_SECONDS,
  },
  fs_roots: { env: undefined, schema: Type.Array(Type.String()), def: [] as string[] },
  isolation: { env: 'OPENACE_ISOLATION', schema: literals(ISOLATION_MODES), def: 'auto' },
  run_as: {
    env: 'OPENACE_RUN_AS',
    schema: Type.String({ pattern: '^([a-z_][a-z0-9_.-]{0,31})?$' }),
    def: '',
  },
  update_rollback_timeout: { env: 'OPENACE_UPDATE_ROLLBACK_TIMEOUT', schema: seconds(1), def: 60 },
} as const satisfies Record<string, { env: string | undefined; schema: TSchema; def: unknown }>

/** Every setting as [config.json key, environment variable or undefined]; agent/README.md lists each. */
export const AGENT_SETTINGS: readonly (readonly [string, string | undefined])[] = Object.entries(FIELDS).map(
  ([key, field]) => [key, field.env] as const,
)

type FieldKey = keyof typeof FIELDS

export interface AgentConfig {
  /** The directory holding config.json, logs, the output spool and state.json. */
  dir: string
  server_url: string
  agent_token: string
  /** The server's version of agent_token: a rotation is applied only when newer. */
  agent_token_version: number
  /** One-time token; removed from config.json once registration succeeds. */
  registration_token: string
  machine_id: string
  machine_name: string
  cli_tool: string
  /** Seconds between heartbeats until the server's welcome says otherwise. */
  heartbeat_interval: number
  /** Seconds; reconnect delays grow from base to max with full jitter. */
  reconnect_base_delay: number
  reconnect_max_delay: number
  max_sessions: number
  log_level: AgentLogLevel
  log_max_bytes: number
  /** 'auto' tries WebSocket first and falls back to long-poll. */
  transport: TransportMode
  work_dir: string
  /** Directories fs.list and session project paths are confined to. */
  fs_roots: string[]
  /** Seconds a terminal nobody watches keeps running. */
  terminal_idle_timeout: number
  /** 'auto': sandbox every CLI with the strongest isolation that works here; 'none': do not. */
  isolation: IsolationMode
  /** Unprivileged OS user CLIs run as when the agent runs as root and no sandbox works. */
  run_as: string
  /** Seconds a self-updated binary has to come online before the previous one is put back. */
  update_rollback_timeout: number
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

/** Environment values are strings; numeric settings are converted before checking. */
function fromEnv(schema: TSchema, raw: string): unknown {
  if (schema.type === 'number' || schema.type === 'integer') return raw.trim() === '' ? raw : Number(raw)
  return raw
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
          : [field.def, undefined]
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
