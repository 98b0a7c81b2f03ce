// The fake LLM's wire formats: complete answers, SSE event sequences and error bodies in the
// OpenAI, Anthropic and Google shapes (see fake-llm.ts for the server that sends them).
import type { FakeBehaviour } from './fake-llm.ts'

export interface FakeUsage {
  input: number
  output: number
}

export interface FakeToolCall {
  name: string
  arguments: string | Record<string, unknown>
}

export type Resolved = Required<
  Omit<
    FakeBehaviour,
    'forKey' | 'toolCalls' | 'resetAfterChunks' | 'echoKey' | 'errorMessage' | 'omitUsage' | 'models'
  >
> &
  Pick<FakeBehaviour, 'toolCalls' | 'resetAfterChunks'>

function splitText(text: string, pieces: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / Math.max(1, pieces)))
  const out: string[] = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out.length ? out : ['']
}

export type Dialect = 'openai' | 'responses' | 'anthropic' | 'google'

export function errorBody(dialect: Dialect, status: number, text?: string): unknown {
  const message = text ?? `fake upstream error ${status}`
  if (dialect === 'anthropic')
    return { type: 'error', error: { type: status === 429 ? 'rate_limit_error' : 'api_error', message } }
  if (dialect === 'google')
    return { error: { code: status, message, status: status === 429 ? 'RESOURCE_EXHAUSTED' : 'INTERNAL' } }
  return { error: { message, type: status === 429 ? 'rate_limit_exceeded' : 'server_error', code: null } }
}

function openaiMessage(b: Resolved) {
  if (b.toolCalls?.length) {
    return {
      role: 'assistant',
      content: null,
      tool_calls: b.toolCalls.map((c, i) => ({
        id: `call_${i + 1}`,
        type: 'function',
        function: { name: c.name, arguments: toolArgs(c) },
      })),
    }
  }
  return { role: 'assistant', content: b.reply }
}

const toolArgs = (c: FakeToolCall) =>
  typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments)

function openaiUsage(u: FakeUsage) {
  return { prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output }
}

/** The SSE events of one streamed answer, as data objects (`null` is the OpenAI [DONE]). */
export function streamEvents(
  dialect: Dialect,
  b: Resolved,
  json: Record<string, unknown>,
): Array<[string | null, unknown]> {
  const pieces = splitText(b.reply, b.chunks)
  if (dialect === 'anthropic') {
    const id = 'msg_fake'
    return [
      [
        'message_start',
        {
          type: 'message_start',
          message: {
            id,
            type: 'message',
            role: 'assistant',
            model: b.model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: b.usage.input, output_tokens: 1 },
          },
        },
      ],
      [
        'content_block_start',
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      ],
      ...pieces.map((text): [string, unknown] => [
        'content_block_delta',
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } },
      ]),
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      [
        'message_delta',
        {
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: b.usage.output },
        },
      ],
      ['message_stop', { type: 'message_stop' }],
    ]
  }
  if (dialect === 'responses') return responsesEvents(b, pieces)
  if (dialect === 'google') {
    return pieces.map((text, i) => {
      const last = i === pieces.length - 1
      return [
        null,
        {
          candidates: [
            {
              content: { parts: [{ text }], role: 'model' },
              index: 0,
              ...(last ? { finishReason: 'STOP' } : {}),
            },
          ],
          usageMetadata: {
            promptTokenCount: b.usage.input,
            candidatesTokenCount: last ? b.usage.output : i + 1,
            totalTokenCount: b.usage.input + (last ? b.usage.output : i + 1),
          },
          modelVersion: b.model,
        },
      ]
    })
  }
  const base = {
    id: 'chatcmpl-fake',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: b.model,
  }
  const chunk = (delta: unknown, finish: string | null) =>
    [null, { ...base, choices: [{ index: 0, delta, finish_reason: finish }] }] as [null, unknown]
  const events: Array<[string | null, unknown]> = [chunk({ role: 'assistant', content: '' }, null)]
  if (b.toolCalls?.length) {
    b.toolCalls.forEach((c, index) => {
      events.push(
        chunk(
          {
            tool_calls: [
              { index, id: `call_${index + 1}`, type: 'function', function: { name: c.name, arguments: '' } },
            ],
          },
          null,
        ),
      )
      events.push(chunk({ tool_calls: [{ index, function: { arguments: toolArgs(c) } }] }, null))
    })
    events.push(chunk({}, 'tool_calls'))
  } else {
    for (const content of pieces) events.push(chunk({ content }, null))
    events.push(chunk({}, 'stop'))
  }
  const options = json.stream_options as { include_usage?: boolean } | undefined
  if (options?.include_usage) events.push([null, { ...base, choices: [], usage: openaiUsage(b.usage) }])
  events.push([null, '[DONE]'])
  return events
}

export function completeBody(dialect: Dialect, b: Resolved): unknown {
  if (dialect === 'responses') return responsesBody(b, 'completed')
  if (dialect === 'anthropic')
    return {
      id: 'msg_fake',
      type: 'message',
      role: 'assistant',
      model: b.model,
      content: [{ type: 'text', text: b.reply }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: b.usage.input, output_tokens: b.usage.output },
    }
  if (dialect === 'google')
    return {
      candidates: [
        { content: { parts: [{ text: b.reply }], role: 'model' }, finishReason: 'STOP', index: 0 },
      ],
      usageMetadata: {
        promptTokenCount: b.usage.input,
        candidatesTokenCount: b.usage.output,
        totalTokenCount: b.usage.input + b.usage.output,
      },
      modelVersion: b.model,
    }
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: b.model,
    choices: [
      { index: 0, message: openaiMessage(b), finish_reason: b.toolCalls?.length ? 'tool_calls' : 'stop' },
    ],
    usage: openaiUsage(b.usage),
  }
}

// OpenAI Responses API (POST .../responses): a response object, and when streamed the typed
// events Codex reads: created, output item/part/text deltas, done events, then response.completed
// carrying the usage (input_tokens/output_tokens).
function responsesUsage(u: FakeUsage) {
  return {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.input + u.output,
  }
}

function responsesMessage(b: Resolved, status: string) {
  return {
    id: 'msg_fake',
    type: 'message',
    status,
    role: 'assistant',
    content: [{ type: 'output_text', text: b.reply, annotations: [] }],
  }
}

function responsesBody(b: Resolved, status: 'in_progress' | 'completed') {
  const done = status === 'completed'
  return {
    id: 'resp_fake',
    object: 'response',
    created_at: 1_700_000_000,
    status,
    model: b.model,
    output: done ? [responsesMessage(b, 'completed')] : [],
    usage: done ? responsesUsage(b.usage) : null,
  }
}

function responsesEvents(b: Resolved, pieces: string[]): Array<[string | null, unknown]> {
  const ev = (type: string, fields: Record<string, unknown>): [string, unknown] => [type, { type, ...fields }]
  const item = { ...responsesMessage(b, 'in_progress'), content: [] }
  const part = { type: 'output_text', text: '', annotations: [] }
  const at = { output_index: 0, item_id: 'msg_fake', content_index: 0 }
  return [
    ev('response.created', { response: responsesBody(b, 'in_progress') }),
    ev('response.in_progress', { response: responsesBody(b, 'in_progress') }),
    ev('response.output_item.added', { output_index: 0, item }),
    ev('response.content_part.added', { ...at, part }),
    ...pieces.map((delta) => ev('response.output_text.delta', { ...at, delta })),
    ev('response.output_text.done', { ...at, text: b.reply }),
    ev('response.content_part.done', { ...at, part: { ...part, text: b.reply } }),
    ev('response.output_item.done', { output_index: 0, item: responsesMessage(b, 'completed') }),
    ev('response.completed', { response: responsesBody(b, 'completed') }),
  ]
}
