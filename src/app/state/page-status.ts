// The page title and favicon carry the tab's status, so a volunteer sees from another tab (or
// the tab strip) whether this one is training, paused or stuck.
export type PageStatusKind = 'idle' | 'working' | 'paused' | 'error'

const COLOURS: Record<PageStatusKind, string> = { idle: '#888888', working: '#1a7f37', paused: '#bf8700', error: '#cf222e' }
const BASE_TITLE = 'tabgrad'

/** Sets `document.title` to "<text> · tabgrad" (just "tabgrad" when idle) and a coloured dot favicon. */
export function showPageStatus (kind: PageStatusKind, text: string | null): void {
  if (typeof document === 'undefined') return
  const title = kind === 'idle' || text == null ? BASE_TITLE : `${kind === 'working' ? '▶' : kind === 'paused' ? '⏸' : '⚠'} ${text} · ${BASE_TITLE}`
  if (document.title !== title) document.title = title
  let link = document.querySelector<HTMLLinkElement>('link[rel="icon"]')
  if (link == null) {
    link = document.createElement('link')
    link.rel = 'icon'
    document.head.append(link)
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="${COLOURS[kind]}"/></svg>`
  const href = `data:image/svg+xml,${encodeURIComponent(svg)}`
  if (link.href !== href) link.href = href
  link.dataset.status = kind
}
