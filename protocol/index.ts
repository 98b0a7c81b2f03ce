// The agent <-> server wire contract (see README.md): TypeBox schemas, static types, the
// protocol version and frame parsers. Imported by both server/ and agent/; TypeBox only.
export * from './agent-frames.ts'
export * from './capabilities.ts'
export * from './changes.ts'
export * from './commands.ts'
export * from './common.ts'
export * from './events.ts'
export * from './parse.ts'
export * from './server-frames.ts'
export * from './terminal.ts'
export * from './transport.ts'
