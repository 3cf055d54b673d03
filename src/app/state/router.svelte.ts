// Hash routing: #/ (home), #/c/<campaignId>, #/me (ownership), #/new (new campaign).

export type Route =
  | { page: 'home' }
  | { page: 'campaign', id: string }
  | { page: 'ownership' }
  | { page: 'new' }
  | { page: 'not-found', hash: string }

export function parseRoute (hash: string): Route {
  const path = hash.replace(/^#/, '') || '/'
  if (path === '/' || path === '') return { page: 'home' }
  if (path === '/me') return { page: 'ownership' }
  if (path === '/new') return { page: 'new' }
  const m = /^\/c\/([0-9a-f]{32})$/.exec(path)
  if (m != null) return { page: 'campaign', id: m[1] }
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
