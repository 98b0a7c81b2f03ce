// Browser notifications for a session that needs the person while its tab is hidden: "needs
// approval" and "turn finished". Off by default; turning them on asks the browser once, and the
// choice is remembered in localStorage.
import { t } from '#lib/i18n/index.svelte.ts'

const STORAGE_KEY = 'openace.notifications'

export const notifications = $state({
  enabled: typeof localStorage !== 'undefined' && localStorage.getItem(STORAGE_KEY) === 'on',
})

export const notificationsSupported = () => typeof Notification !== 'undefined'

/** Turns notifications on (asking the browser for permission) or off; false when refused. */
export async function setNotifications(on: boolean): Promise<boolean> {
  if (on && notificationsSupported() && Notification.permission !== 'granted') {
    if ((await Notification.requestPermission()) !== 'granted') on = false
  }
  notifications.enabled = on && notificationsSupported()
  localStorage.setItem(STORAGE_KEY, notifications.enabled ? 'on' : 'off')
  return notifications.enabled
}

export function notifyIfHidden(kind: 'approval' | 'done', what: string): void {
  if (!notifications.enabled || !notificationsSupported() || Notification.permission !== 'granted') return
  if (typeof document === 'undefined' || !document.hidden) return
  const title = kind === 'approval' ? t('ws.notify.approval') : t('ws.notify.done')
  new Notification(title, { body: what, tag: `openace-${kind}` })
}
