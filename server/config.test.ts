import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, loadConfig } from './config.ts'

const quiet = { warn: () => {} }

describe('loadConfig', () => {
  test('defaults follow the seed: port 5000, ./data, info logs', () => {
    const c = loadConfig({ SECRET_KEY: 'a-long-enough-secret' }, quiet)
    expect(c.port).toBe(5000)
    expect(c.dataDir.endsWith('/data')).toBe(true)
    expect(c.logLevel).toBe('info')
    expect(c.databaseUrl).toBeUndefined()
  })

  test('a bad value names the variable', () => {
    expect(() => loadConfig({ PORT: 'eighty' }, quiet)).toThrow(/PORT/)
    expect(() => loadConfig({ PORT: '70000' }, quiet)).toThrow(/PORT/)
    expect(() => loadConfig({ OPENACE_ENCRYPTION_KEY: 'abc' }, quiet)).toThrow(/OPENACE_ENCRYPTION_KEY/)
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' }, quiet)).toThrow(/DATABASE_URL/)
    expect(() => loadConfig({ LOG_LEVEL: 'loud' }, quiet)).toThrow(/LOG_LEVEL/)
  })

  test('production without SECRET_KEY is a start-up error with a clear message', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' }, quiet)).toThrow(ConfigError)
    expect(() => loadConfig({ NODE_ENV: 'production' }, quiet)).toThrow(/SECRET_KEY is required/)
  })

  test('dev without SECRET_KEY warns and keeps a stable secret in DATA_DIR (0600)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oa-config-'))
    const warnings: string[] = []
    const a = loadConfig({ DATA_DIR: dir }, { warn: (m) => warnings.push(m) })
    const b = loadConfig({ DATA_DIR: dir }, quiet)
    expect(warnings.join()).toMatch(/SECRET_KEY is not set/)
    expect(a.secretKey).toBe(b.secretKey)
    expect(a.secretKeySource).toBe('data-dir')
    expect(readFileSync(join(dir, 'secret-key'), 'utf8').trim()).toBe(a.secretKey)
    expect(statSync(join(dir, 'secret-key')).mode & 0o777).toBe(0o600)
  })

  test('PUBLIC_URL loses its trailing slash; booleans parse', () => {
    const c = loadConfig(
      { SECRET_KEY: 'a-long-enough-secret', PUBLIC_URL: 'https://ace.example.com/', TRUST_PROXY: 'true' },
      quiet,
    )
    expect(c.publicUrl).toBe('https://ace.example.com')
    expect(c.trustProxy).toBe(true)
  })
})
