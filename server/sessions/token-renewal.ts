// Long sessions must outlive their proxy token's lifetime: a background sweep renews the token
// of every live session whose token nears expiry and pushes it to the agent (token.refresh).
// Running on several instances at once only issues a spare token, never a gap.
import { queueCommand } from '../agents/commands.ts'
import type { AppContext } from '../context/index.ts'
import { refreshProxyToken, sessionsWithTokensExpiringBefore } from '../llm-proxy/tokens.ts'

/** Renew when less than this share of the lifetime is left. */
const RENEW_WHEN_LEFT = 0.25

export async function renewExpiringTokens(ctx: AppContext): Promise<number> {
  const now = ctx.now()
  const horizon = new Date(now.getTime() + ctx.config.proxyTokenTtlSeconds * 1000 * RENEW_WHEN_LEFT)
  const rows = await sessionsWithTokensExpiringBefore(ctx, horizon)
  let renewed = 0
  for (const row of rows) {
    if (!row.machineId) continue
    try {
      const token = await refreshProxyToken(ctx, row.sessionId)
      await queueCommand(ctx, row.machineId, {
        type: 'token.refresh',
        session_id: row.sessionId,
        proxy_token: token.token,
        expires_at: token.expires_at,
      })
      renewed++
    } catch (error) {
      ctx.log.warn('proxy token renewal failed', { session_id: row.sessionId, error })
    }
  }
  return renewed
}

export function startTokenRenewal(ctx: AppContext): void {
  const everyMs = Math.max(1000, (ctx.config.proxyTokenTtlSeconds * 1000 * RENEW_WHEN_LEFT) / 4)
  const timer = setInterval(() => {
    renewExpiringTokens(ctx).catch((error) => ctx.log.warn('proxy token renewal sweep failed', { error }))
  }, everyMs)
  ctx.onClose(() => clearInterval(timer))
}
