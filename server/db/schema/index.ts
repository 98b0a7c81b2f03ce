// Every table, one file per group; drizzle-kit reads this module to generate migrations.

export * from './audit.ts'
export * from './conversation.ts'
export * from './idempotency.ts'
export * from './identity.ts'
export * from './llm.ts'
export * from './machines.ts'
export * from './session-status.ts'
export * from './sessions.ts'
export * from './terminals.ts'
