// /manage/* is for system admins only (the server refuses the calls too): others are sent
// back to the workspace with a notice instead of seeing an empty admin page.
import { redirect } from '@sveltejs/kit'
import { t } from '#lib/i18n/index.svelte.ts'
import { isSystemAdmin } from '#lib/session.svelte.ts'
import { toast } from '#lib/toast.svelte.ts'
import type { LayoutLoad } from './$types'

export const load: LayoutLoad = async ({ parent }) => {
  const { user } = await parent()
  if (!isSystemAdmin(user)) {
    toast.info(t('guard.adminOnly'))
    redirect(307, '/workspace')
  }
}
