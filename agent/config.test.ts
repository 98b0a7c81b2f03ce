import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, loadAgentConfig, updateConfigFile } from './config.ts'

const tempDir = () => mkdtempSync(join(tmpdir(), 'oa-config-'))

describe('agent config', () => {
  test('environment beats config.json, which beats defaults', () => {
    const dir = tempDir()
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ server_url: 'http://file:5000', max_sessions: 3, log_level: 'warn' }),
    )
    const config = loadAgentConfig(dir, { OPENACE_MAX_SESSIONS: '7' })
    expect(config.server_url).toBe('http://file:5000')
    expect(config.max_sessions).toBe(7)
    expect(config.log_level).toBe('warn')
    expect(config.heartbeat_interval).toBe(30)
    expect(config.transport).toBe('auto')
    expect(config.fs_roots.length).toBeGreaterThan(0)
  })

  test('a bad value is a start-up error naming the key and where it came from', () => {
    const dir = tempDir()
    expect(() => loadAgentConfig(dir, { OPENACE_MAX_SESSIONS: 'many' })).toThrow(/OPENACE_MAX_SESSIONS/)
    expect(() => loadAgentConfig(dir, { OPENACE_LOG_LEVEL: 'loud' })).toThrow(/OPENACE_LOG_LEVEL/)
    expect(() => loadAgentConfig(dir, { OPENACE_SERVER_URL: 'ftp://x' })).toThrow(ConfigError)
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ reconnect_base_delay: -1 }))
    expect(() => loadAgentConfig(dir, {})).toThrow(/"reconnect_base_delay" in .*config\.json/)
    writeFileSync(join(dir, 'config.json'), '{not json')
    expect(() => loadAgentConfig(dir, {})).toThrow(/not valid JSON/)
  })

  test('environment strings are converted to the setting type; a fraction for an integer is refused', () => {
    const dir = tempDir()
    const config = loadAgentConfig(dir, { OPENACE_RECONNECT_BASE_DELAY: ' 0.5 ', OPENACE_MAX_SESSIONS: '12' })
    expect(config.reconnect_base_delay).toBe(0.5)
    expect(config.max_sessions).toBe(12)
    expect(() => loadAgentConfig(dir, { OPENACE_MAX_SESSIONS: '2.5' })).toThrow(/OPENACE_MAX_SESSIONS/)
    expect(() => loadAgentConfig(dir, { OPENACE_MAX_SESSIONS: '1e3' })).toThrow(/OPENACE_MAX_SESSIONS/)
    expect(() => loadAgentConfig(dir, { OPENACE_HEARTBEAT_INTERVAL: '' })).toThrow(
      /OPENACE_HEARTBEAT_INTERVAL/,
    )
  })

  test('defaults come from the schemas, and a default array is never shared between loads', () => {
    const first = loadAgentConfig(tempDir(), {})
    expect(first.log_level).toBe('info')
    expect(first.update_rollback_timeout).toBe(60)
    first.fs_roots.push('/elsewhere')
    expect(loadAgentConfig(tempDir(), {}).fs_roots).not.toContain('/elsewhere')
  })

  test('a bad token value is reported without echoing it', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ agent_token: 12345678 }))
    let message = ''
    try {
      loadAgentConfig(dir, {})
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).toContain('agent_token')
    expect(message).not.toContain('12345678')
  })

  test('updates are written as JSON with mode 0600 and removed keys are gone from disk', () => {
    const dir = tempDir()
    updateConfigFile(dir, { server_url: 'http://a:5000', registration_token: 'reg-secret-123' })
    updateConfigFile(dir, { agent_token: 'agent-secret', registration_token: undefined })
    const text = readFileSync(join(dir, 'config.json'), 'utf8')
    expect(JSON.parse(text)).toEqual({ server_url: 'http://a:5000', agent_token: 'agent-secret' })
    expect(text).not.toContain('reg-secret-123')
    expect(statSync(join(dir, 'config.json')).mode & 0o777).toBe(0o600)
  })
})
