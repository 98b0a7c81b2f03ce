// A strict reader of the Prometheus text format, the inverse of Registry.render: tests use it
// to prove every line of GET /metrics is well formed and to read values back by name and labels.

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y
const COMMENT = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY
  if (text === '-Inf') return Number.NEGATIVE_INFINITY
  if (text === 'NaN') return Number.NaN
  const n = Number(text)
  if (text === '' || Number.isNaN(n)) throw new Error(`not a sample value: ${text}`)
  return n
}

/** Throws on the first malformed line; otherwise returns every sample in order. */
export function parseExposition(text: string): Sample[] {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline')
  const samples: Sample[] = []
  const typed = new Map<string, string>()
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('#')) {
      const comment = COMMENT.exec(line)
      if (!comment) throw new Error(`malformed comment line: ${line}`)
      if (comment[1] === 'TYPE') {
        if (!TYPES.has(comment[3]!)) throw new Error(`unknown metric type: ${line}`)
        typed.set(comment[2]!, comment[3]!)
      }
      continue
    }
    const match = SAMPLE.exec(line)
    if (!match) throw new Error(`malformed sample line: ${line}`)
    const [, name, rawLabels = '', value] = match
    const family = name!.replace(/_(bucket|sum|count)$/, '')
    if (!typed.has(name!) && !typed.has(family)) throw new Error(`sample before its TYPE line: ${line}`)
    const labels: Record<string, string> = {}
    LABEL.lastIndex = 0
    while (LABEL.lastIndex < rawLabels.length) {
      const label = LABEL.exec(rawLabels)
      if (!label) throw new Error(`malformed labels: ${line}`)
      labels[label[1]!] = unescapeLabel(label[2]!)
    }
    samples.push({ name: name!, labels, value: parseValue(value!) })
  }
  return samples
}

/** The value of the sample with this name whose labels include `labels`; undefined if absent. */
export function sampleValue(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value
}
