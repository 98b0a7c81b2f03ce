// Every table, one file per group; drizzle-kit reads this module to generate migrations.
export * from './identity.ts'
export * from './audit.ts'
