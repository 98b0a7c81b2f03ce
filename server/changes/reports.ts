// The agent's "the project changed" report, handled here because the changes panel owns it:
// checked against the calling machine, then announced to every watching browser.
import type { FrameReport } from '../agents/frames.ts'
import { ownSession } from '../sessions/reports.ts'
import { publishChangesUpdated } from './events.ts'

export const changesUpdatedReport: FrameReport<'changes.updated'> = async (ctx, agent, frame) => {
  await ownSession(ctx, agent, frame.session_id, frame.type)
  await publishChangesUpdated(ctx, frame.session_id)
}
