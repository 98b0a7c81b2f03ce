import { describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAgentLogger } from './log.ts'

describe('agent log', () => {
  test('writes agent.log and agent-error.log, honours the level and masks tokens', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oa-log-'))
    const stderr: string[] = []
    const log = createAgentLogger({ level: 'info', dir, stderr: (l) => stderr.push(l) })
    log.addSecret('super-secret-agent-token')
    log.debug('hidden')
    log.info('connected', { agent_token: 'abc', server: 'http://x' })
    log.error('refused: super-secret-agent-token was rejected')
    const all = readFileSync(join(dir, 'agent.log'), 'utf8')
    expect(all).not.toContain('hidden')
    expect(all).toContain('agent_token=[redacted]')
    expect(all).not.toContain('super-secret-agent-token')
    expect(readFileSync(join(dir, 'agent-error.log'), 'utf8')).toContain('refused: [redacted] was rejected')
    expect(stderr).toHaveLength(2)
  })

  test('rotates by size', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oa-log-'))
    const log = createAgentLogger({ level: 'info', dir, maxBytes: 1000, stderr: () => {} })
    for (let i = 0; i < 60; i++) log.info(`line ${i} ${'x'.repeat(40)}`)
    expect(existsSync(join(dir, 'agent.log.1'))).toBe(true)
    expect(existsSync(join(dir, 'agent.log.2'))).toBe(true)
    expect(existsSync(join(dir, 'agent.log.4'))).toBe(false)
    expect(readFileSync(join(dir, 'agent.log'), 'utf8').length).toBeLessThan(1100)
  })
})
