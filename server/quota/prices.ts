// The price table: what a model costs per million tokens, input and output apart, set by system
// admins and read by everyone who sees usage (their own cost). Usage reports price tokens by
// joining it on (provider, model) in SQL, so a changed price re-prices past usage too.
import { asc, eq } from 'drizzle-orm'
import type { Actor } from '../audit/service.ts'
import type { AppContext } from '../context/index.ts'
import { type LlmProvider, modelPrices, PRICE_CURRENCY } from '../db/schema/index.ts'
import { notFound } from '../errors.ts'

type PriceRow = typeof modelPrices.$inferSelect

export function publicPrice(row: PriceRow) {
  return {
    id: row.id,
    provider: row.provider,
    model: row.model,
    input_per_million: row.inputPerMillion,
    output_per_million: row.outputPerMillion,
    currency: PRICE_CURRENCY,
    updated_at: row.updatedAt.toISOString(),
  }
}

export async function listPrices(ctx: AppContext) {
  const rows = await ctx.db
    .select()
    .from(modelPrices)
    .orderBy(asc(modelPrices.provider), asc(modelPrices.model))
  return rows.map(publicPrice)
}

export interface PriceInput {
  provider: LlmProvider
  model: string
  inputPerMillion: number
  outputPerMillion: number
}

/** Sets a model's price (one row per provider and model: a second set replaces the first). */
export async function setPrice(ctx: AppContext, actor: Actor, input: PriceInput) {
  const values = {
    inputPerMillion: input.inputPerMillion,
    outputPerMillion: input.outputPerMillion,
    updatedAt: ctx.now(),
    updatedBy: actor.type === 'user' && actor.id != null ? Number(actor.id) : null,
  }
  const [row] = await ctx.db
    .insert(modelPrices)
    .values({ provider: input.provider, model: input.model, ...values })
    .onConflictDoUpdate({ target: [modelPrices.provider, modelPrices.model], set: values })
    .returning()
  await ctx.audit(
    'price.set',
    actor,
    { type: 'price', id: row!.id, name: `${row!.provider}/${row!.model}` },
    {
      input_per_million: row!.inputPerMillion,
      output_per_million: row!.outputPerMillion,
      currency: PRICE_CURRENCY,
    },
  )
  return publicPrice(row!)
}

export async function deletePrice(ctx: AppContext, actor: Actor, id: number) {
  const [row] = await ctx.db.delete(modelPrices).where(eq(modelPrices.id, id)).returning()
  if (!row) throw notFound('Price')
  await ctx.audit('price.delete', actor, { type: 'price', id, name: `${row.provider}/${row.model}` })
}
