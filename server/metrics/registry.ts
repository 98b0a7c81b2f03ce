// A tiny in-process metrics registry (counters, gauges, fixed-bucket histograms, labels) that
// renders the Prometheus text exposition format (version 0.0.4). Hand-written because the need
// is small and a client library would bring default collectors and global state we do not want.

type Labels = Record<string, string | number>
type MetricType = 'counter' | 'gauge' | 'histogram'

interface Metric {
  name: string
  help: string
  type: MetricType
  render(): string[]
}

/** `\`, `"` and newlines must be escaped in label values; HELP text escapes `\` and newlines. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')
}

function escapeHelp(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')
}

export function formatValue(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf'
  if (value === Number.NEGATIVE_INFINITY) return '-Inf'
  if (Number.isNaN(value)) return 'NaN'
  return String(value)
}

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const pairs = names.map((n, i) => `${n}="${escapeLabelValue(values[i]!)}"`)
  if (extra) pairs.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`)
  return pairs.length ? `{${pairs.join(',')}}` : ''
}

/** Labelled children keyed by their values in label-name order. */
class Children<T> {
  readonly map = new Map<string, { values: string[]; child: T }>()
  constructor(
    readonly labelNames: readonly string[],
    private readonly make: () => T,
  ) {}

  get(labels: Labels | undefined): T {
    const values = this.labelNames.map((n) => {
      const v = labels?.[n]
      if (v === undefined) throw new Error(`metric label ${n} is missing`)
      return String(v)
    })
    const key = values.join('\u0000')
    let entry = this.map.get(key)
    if (!entry) {
      entry = { values, child: this.make() }
      this.map.set(key, entry)
    }
    return entry.child
  }
}

/** A counter's or a gauge's state: one number per label set, rendered one line each. */
abstract class NumberMetric implements Metric {
  abstract readonly type: MetricType
  protected readonly children: Children<{ value: number }>
  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly string[] = [],
  ) {
    this.children = new Children(labelNames, () => ({ value: 0 }))
    if (!labelNames.length) this.children.get(undefined)
  }

  value(labels?: Labels): number {
    return this.children.get(labels).value
  }

  render(): string[] {
    return [...this.children.map.values()].map(
      ({ values, child }) =>
        `${this.name}${labelText(this.children.labelNames, values)} ${formatValue(child.value)}`,
    )
  }
}

export class Counter extends NumberMetric {
  readonly type = 'counter'

  inc(labels?: Labels, by = 1): void {
    if (by < 0) throw new Error(`counter ${this.name} cannot decrease`)
    this.children.get(labels).value += by
  }
}

export class Gauge extends NumberMetric {
  readonly type = 'gauge'
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    /** Read at render time instead of set (process figures). Only for unlabelled gauges. */
    private readonly collect?: () => number,
  ) {
    super(name, help, labelNames)
  }

  set(value: number, labels?: Labels): void {
    this.children.get(labels).value = value
  }

  inc(labels?: Labels, by = 1): void {
    this.children.get(labels).value += by
  }

  dec(labels?: Labels, by = 1): void {
    this.children.get(labels).value -= by
  }

  override value(labels?: Labels): number {
    return this.collect ? this.collect() : super.value(labels)
  }

  override render(): string[] {
    return this.collect ? [`${this.name} ${formatValue(this.collect())}`] : super.render()
  }
}

interface HistogramChild {
  counts: number[]
  sum: number
  count: number
}

export class Histogram implements Metric {
  readonly type = 'histogram'
  private readonly children: Children<HistogramChild>
  readonly buckets: readonly number[]
  constructor(
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
    labelNames: readonly string[] = [],
  ) {
    this.buckets = [...buckets].sort((a, b) => a - b)
    this.children = new Children(labelNames, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 }))
    if (!labelNames.length) this.children.get(undefined)
  }

  observe(value: number, labels?: Labels): void {
    const child = this.children.get(labels)
    // Counts are kept per bucket and summed when rendered (cumulative `le` semantics).
    const i = this.buckets.findIndex((b) => value <= b)
    if (i >= 0) child.counts[i]! += 1
    child.sum += value
    child.count += 1
  }

  snapshot(labels?: Labels): { count: number; sum: number } {
    const { count, sum } = this.children.get(labels)
    return { count, sum }
  }

  render(): string[] {
    const names = this.children.labelNames
    const lines: string[] = []
    for (const { values, child } of this.children.map.values()) {
      let cumulative = 0
      this.buckets.forEach((bound, i) => {
        cumulative += child.counts[i]!
        lines.push(`${this.name}_bucket${labelText(names, values, ['le', formatValue(bound)])} ${cumulative}`)
      })
      lines.push(`${this.name}_bucket${labelText(names, values, ['le', '+Inf'])} ${child.count}`)
      lines.push(`${this.name}_sum${labelText(names, values)} ${formatValue(child.sum)}`)
      lines.push(`${this.name}_count${labelText(names, values)} ${child.count}`)
    }
    return lines
  }
}

export class Registry {
  private readonly metrics = new Map<string, Metric>()

  private add<T extends Metric>(metric: T): T {
    if (this.metrics.has(metric.name)) throw new Error(`metric ${metric.name} is registered twice`)
    this.metrics.set(metric.name, metric)
    return metric
  }

  counter(name: string, help: string, labelNames?: readonly string[]): Counter {
    return this.add(new Counter(name, help, labelNames))
  }

  gauge(name: string, help: string, labelNames?: readonly string[], collect?: () => number): Gauge {
    return this.add(new Gauge(name, help, labelNames, collect))
  }

  histogram(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames?: readonly string[],
  ): Histogram {
    return this.add(new Histogram(name, help, buckets, labelNames))
  }

  /** The whole registry in the Prometheus text format, ending with a newline. */
  render(): string {
    const lines: string[] = []
    for (const metric of this.metrics.values()) {
      lines.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`, `# TYPE ${metric.name} ${metric.type}`)
      lines.push(...metric.render())
    }
    return `${lines.join('\n')}\n`
  }
}
