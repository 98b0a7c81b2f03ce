// CLIs that report usage as a running total (qwen per session, codex per resumed thread): the
// part of `now` that came after `before`.
import type { TokenUsage } from '../../protocol/index.ts'

export function usageSince(now: TokenUsage, before: TokenUsage | undefined): TokenUsage {
  const d = (a: number | undefined, b: number | undefined) => Math.max(0, (a ?? 0) - (b ?? 0))
  return {
    input_tokens: d(now.input_tokens, before?.input_tokens),
    output_tokens: d(now.output_tokens, before?.output_tokens),
    ...(now.cache_read_tokens !== undefined
      ? { cache_read_tokens: d(now.cache_read_tokens, before?.cache_read_tokens) }
      : {}),
  }
}
