import { describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LOG_TAIL_MAX_LINES } from '../protocol/commands.ts'
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

describe('the in-memory tail (log.tail)', () => {
  test('keeps the newest lines, bounded, masked like the files, even for a secret learnt later', () => {
    const log = createAgentLogger({ level: 'debug', stderr: () => {} })
    log.info('connecting', { server: 'http://127.0.0.1' })
    log.info('got token-value-0123456789 from the register call')
    log.info('hello', { agent_token: 'never-kept-0123456789' })
    log.addSecret('token-value-0123456789')
    const kept = log.tail()
    expect(kept).toHaveLength(3)
    expect(kept.join('\n')).not.toContain('token-value-0123456789')
    expect(kept.join('\n')).not.toContain('never-kept-0123456789')
    expect(kept[0]).toContain('connecting')
    expect(log.tail(1)).toEqual([kept[2]!])
    for (let i = 0; i < LOG_TAIL_MAX_LINES + 10; i++) log.debug(`line ${i}`)
    const full = log.tail()
    expect(full).toHaveLength(LOG_TAIL_MAX_LINES)
    expect(full.at(-1)).toContain(`line ${LOG_TAIL_MAX_LINES + 9}`)
  })
})
