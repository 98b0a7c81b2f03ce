// The registry's text format: HELP/TYPE lines, label escaping, cumulative histogram buckets,
// and a full render that a strict line-by-line reader accepts.
import { describe, expect, test } from 'bun:test'
import { parseExposition, sampleValue } from '../../test/support/prometheus.ts'
import { escapeLabelValue, formatValue, Registry } from './registry.ts'

describe('metrics registry', () => {
  test('counters with labels render one line per label set, escaped', () => {
    const registry = new Registry()
    const c = registry.counter('t_requests_total', 'Requests.\nSecond line \\ here', ['path'])
    c.inc({ path: 'a"b' })
    c.inc({ path: 'a"b' }, 2)
    c.inc({ path: 'line\nbreak\\' })
    const text = registry.render()
    expect(text).toContain('# HELP t_requests_total Requests.\\nSecond line \\\\ here\n')
    expect(text).toContain('# TYPE t_requests_total counter\n')
    expect(text).toContain('t_requests_total{path="a\\"b"} 3\n')
    expect(text).toContain('t_requests_total{path="line\\nbreak\\\\"} 1\n')
    const samples = parseExposition(text)
    expect(sampleValue(samples, 't_requests_total', { path: 'a"b' })).toBe(3)
    expect(sampleValue(samples, 't_requests_total', { path: 'line\nbreak\\' })).toBe(1)
  })

  test('counters refuse to go down and a missing label is an error', () => {
    const c = new Registry().counter('t_total', 'x', ['kind'])
    expect(() => c.inc({ kind: 'a' }, -1)).toThrow('cannot decrease')
    expect(() => c.inc({})).toThrow('label kind is missing')
  })

  test('unlabelled metrics are present at zero before first use', () => {
    const registry = new Registry()
    registry.counter('t_zero_total', 'zero')
    registry.gauge('t_level', 'level')
    const samples = parseExposition(registry.render())
    expect(sampleValue(samples, 't_zero_total')).toBe(0)
    expect(sampleValue(samples, 't_level')).toBe(0)
  })

  test('gauges set, move and collect at render time', () => {
    const registry = new Registry()
    const g = registry.gauge('t_conns', 'c', ['transport'])
    g.set(5, { transport: 'ws' })
    g.inc({ transport: 'ws' })
    g.dec({ transport: 'ws' }, 3)
    let reading = 7
    registry.gauge('t_collected', 'c', [], () => reading)
    reading = 9
    const samples = parseExposition(registry.render())
    expect(sampleValue(samples, 't_conns', { transport: 'ws' })).toBe(3)
    expect(sampleValue(samples, 't_collected')).toBe(9)
  })

  test('histograms render cumulative buckets, +Inf, _sum and _count', () => {
    const registry = new Registry()
    const h = registry.histogram('t_seconds', 'latency', [0.1, 0.5, 1], ['op'])
    for (const v of [0.05, 0.1, 0.3, 0.7, 3]) h.observe(v, { op: 'x' })
    const samples = parseExposition(registry.render())
    const bucket = (le: string) => sampleValue(samples, 't_seconds_bucket', { op: 'x', le })
    expect([bucket('0.1'), bucket('0.5'), bucket('1'), bucket('+Inf')]).toEqual([2, 3, 4, 5])
    expect(sampleValue(samples, 't_seconds_sum', { op: 'x' })).toBeCloseTo(4.15, 10)
    expect(sampleValue(samples, 't_seconds_count', { op: 'x' })).toBe(5)
    expect(h.snapshot({ op: 'x' }).count).toBe(5)
  })

  test('a name registered twice is refused', () => {
    const registry = new Registry()
    registry.counter('t_dup_total', 'x')
    expect(() => registry.gauge('t_dup_total', 'y')).toThrow('registered twice')
  })

  test('special values and escaping helpers', () => {
    expect(formatValue(Number.POSITIVE_INFINITY)).toBe('+Inf')
    expect(formatValue(Number.NaN)).toBe('NaN')
    expect(formatValue(0.25)).toBe('0.25')
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd')
  })

  test('the reader rejects malformed lines', () => {
    expect(() => parseExposition('# TYPE x counter\nx{a="1} 2\n')).toThrow()
    expect(() => parseExposition('x 1\n')).toThrow('before its TYPE')
    expect(() => parseExposition('# TYPE x counter\nx one\n')).toThrow()
  })
})
