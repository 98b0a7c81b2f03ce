// `bun scripts/check-cycles.ts`: fails when server/'s capability folders import each other in a
// cycle. Each folder (auth/, sessions/, ...) and each file directly in server/ is one node; an
// edge is a runtime import between two nodes, read with Bun's own transpiler (scanImports drops
// type-only imports, which vanish at compile time). Cycles are the strongly connected
// components of that graph with more than one node (Tarjan), printed with an import on each edge.

import { dirname, join, relative, resolve } from 'node:path'
import { Glob } from 'bun'

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`Usage: bun scripts/check-cycles.ts [--graph]

Checks that no two capability folders under server/ import each other, directly or through
others (runtime imports only; tests are left out). --graph also prints every folder's imports.`)
  process.exit(0)
}

const ROOT = resolve(import.meta.dir, '..')
const SERVER = join(ROOT, 'server')
const transpiler = new Bun.Transpiler({ loader: 'ts' })

/** The node a server file belongs to: its top folder, or the file itself at server/'s top. */
function nodeOf(file: string): string | null {
  const rel = relative(SERVER, file)
  if (rel.startsWith('..')) return null
  const [first, ...rest] = rel.split('/')
  return rest.length ? `${first}/` : first!
}

const edges = new Map<string, Map<string, string>>()
for await (const rel of new Glob('**/*.ts').scan(SERVER)) {
  if (rel.endsWith('.test.ts')) continue
  const file = join(SERVER, rel)
  const from = nodeOf(file)!
  const code = await Bun.file(file).text()
  for (const { path } of transpiler.scanImports(code)) {
    if (!path.startsWith('.')) continue
    const to = nodeOf(resolve(dirname(file), path))
    if (!to || to === from) continue
    const out = edges.get(from) ?? new Map<string, string>()
    edges.set(from, out)
    if (!out.has(to)) out.set(to, `server/${rel} -> ${path}`)
  }
}

const index = new Map<string, number>()
const low = new Map<string, number>()
const stack: string[] = []
const onStack = new Set<string>()
const cycles: string[][] = []
let counter = 0
function visit(v: string) {
  index.set(v, counter)
  low.set(v, counter++)
  stack.push(v)
  onStack.add(v)
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!index.has(w)) {
      visit(w)
      low.set(v, Math.min(low.get(v)!, low.get(w)!))
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
  }
  if (low.get(v) === index.get(v)) {
    const component: string[] = []
    let w: string
    do {
      w = stack.pop()!
      onStack.delete(w)
      component.push(w)
    } while (w !== v)
    if (component.length > 1) cycles.push(component.sort())
  }
}
for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v)

if (process.argv.includes('--graph')) {
  for (const [from, out] of [...edges].sort()) console.log(`${from} -> ${[...out.keys()].sort().join(' ')}`)
}
if (cycles.length === 0) {
  console.log(`No import cycles between server/ folders (${edges.size} folders checked).`)
  process.exit(0)
}
for (const component of cycles) {
  console.error(`Import cycle between ${component.join(', ')}:`)
  const members = new Set(component)
  for (const from of component) {
    for (const [to, via] of edges.get(from) ?? []) if (members.has(to)) console.error(`  ${via}`)
  }
}
process.exit(1)
