// Hash routing: #/ (home), #/c/<campaignId>[?key=<tracker key pin>] (campaign/share-link.ts),
// #/me (ownership), #/new (new campaign).
import { parseCampaignPath } from '../../campaign/share-link.ts'

export type Route =
  | { page: 'home' }
  /** pin: the tracker key the share link pinned; null for an unpinned link. */
  | { page: 'campaign', id: string, pin: string | null }
  | { page: 'ownership' }
  | { page: 'new' }
  | { page: 'not-found', hash: string }

export function parseRoute (hash: string): Route {
  const path = hash.replace(/^#/, '') || '/'
  if (path === '/' || path === '') return { page: 'home' }
  if (path === '/me') return { page: 'ownership' }
  if (path === '/new') return { page: 'new' }
  const c = parseCampaignPath(path)
  if (c != null) return { page: 'campaign', id: c.id, pin: c.pin }
  return { page: 'not-found', hash }
}

class Router {
  route = $state<Route>(parseRoute(typeof location === 'undefined' ? '' : location.hash))

  constructor () {
    if (typeof window !== 'undefined') {
      window.addEventListener('hashchange', () => { this.route = parseRoute(location.hash) })
    }
  }
}

export const router = new Router()
