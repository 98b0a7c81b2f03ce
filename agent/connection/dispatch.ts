// Handles one frame from the server the same way on both transports: receipts clear the
// outbox, errors are logged (and a refused frame is not sent again), commands go to the agent.
import { type GoodbyeFrame, parseServerFrame, type WelcomeFrame } from '../../protocol/index.ts'
import type { AgentLogger } from '../log.ts'
import type { AgentLink } from './link.ts'

export interface DispatchResult {
  welcome?: WelcomeFrame
  goodbye?: GoodbyeFrame
  /**
   * The server could not store a frame (its own failure, e.g. its database is down). This
   * connection sends each frame once, so later frames would be stored around a gap: the caller
   * ends the connection, and after the backoff the next one sends everything unconfirmed in order.
   */
  unstored?: boolean
}

export const UNSTORED = 'the server could not store a frame; reconnecting to send it again in order'

export function dispatchServerFrame(raw: unknown, link: AgentLink, log: AgentLogger): DispatchResult {
  const parsed = parseServerFrame(raw)
  if (!parsed.ok) {
    log.warn('ignoring a frame from the server', { reason: parsed.error.message })
    return {}
  }
  const frame = parsed.value
  switch (frame.type) {
    case 'welcome':
      return { welcome: frame }
    case 'goodbye':
      return { goodbye: frame }
    case 'received':
      link.outbox.received(frame.ids)
      return {}
    case 'error':
      log.warn('server refused a frame', { code: frame.code, message: frame.message, ref: frame.ref })
      // 'internal' is the server's own failure: keep the frame and send it again later.
      if (frame.ref && frame.code !== 'internal') link.outbox.received([frame.ref])
      else if (frame.ref) {
        link.outbox.answered([frame.ref])
        return { unstored: true }
      }
      return {}
    default:
      link.onCommand(frame)
      return {}
  }
}
