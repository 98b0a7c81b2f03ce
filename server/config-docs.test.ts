// Every setting the server and the agent read is documented: the server's environment schema
// against .env.example and README.md's configuration table, the agent's settings table (config
// keys and environment variables) against agent/README.md. Lists come from the config modules.
import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { AGENT_SETTINGS } from '../agent/config.ts'
import { SERVER_ENV_KEYS } from './config.ts'

const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8')

describe('settings documentation', () => {
  test('the server reads settings at all (the list is not empty)', () => {
    expect(SERVER_ENV_KEYS).toContain('PORT')
    expect(AGENT_SETTINGS.map(([key]) => key)).toContain('server_url')
  })

  test('every server setting is in .env.example (set or commented out)', () => {
    const example = read('../.env.example')
    const listed = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]))
    expect(SERVER_ENV_KEYS.filter((key) => !listed.has(key))).toEqual([])
  })

  test("every server setting has a row in README.md's configuration table", () => {
    const readme = read('../README.md')
    const rows = new Set([...readme.matchAll(/^\|\s*`([A-Z][A-Z0-9_]*)`/gm)].map((m) => m[1]))
    expect(SERVER_ENV_KEYS.filter((key) => !rows.has(key))).toEqual([])
  })

  test('every agent setting and its environment variable are in agent/README.md', () => {
    const readme = read('../agent/README.md')
    const missing = AGENT_SETTINGS.flatMap(([key, env]) => [
      ...(readme.includes(`\`${key}\``) ? [] : [key]),
      ...(env && !readme.includes(`\`${env}\``) ? [env] : []),
    ])
    expect(missing).toEqual([])
  })

  test("every agent environment variable is named in README.md's agent section", () => {
    const readme = read('../README.md')
    const envs = AGENT_SETTINGS.flatMap(([, env]) => (env ? [env] : []))
    expect(envs.filter((env) => !readme.includes(`\`${env}\``))).toEqual([])
  })
})
