// Security headers on every tracker response (app, API, datasets, errors).
//
// The CSP is what the built app needs and no more:
//  - scripts and workers only from this origin; 'wasm-unsafe-eval' lets WebAssembly compile
//    (onnxruntime-web in the bench pages; no eval of JavaScript anywhere);
//  - connect-src: this origin (API, datasets) and WebSockets (the libp2p relay listens on its
//    own port, so 'self' alone would not cover it); WebRTC is not governed by CSP;
//  - inline styles: Svelte and uPlot set style attributes;
//  - no plugins, no <base> hijack, forms post only here, and no framing (clickjacking).
import type { ServerResponse } from 'node:http'

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "connect-src 'self' ws: wss:",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'"
].join('; ')

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  // For browsers without CSP frame-ancestors.
  'x-frame-options': 'DENY',
  // Share links carry campaign ids, and the operator link a token: never leak them to other sites.
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()'
}

/** Sets the headers; later writeHead calls keep them (Node merges setHeader into writeHead). */
export function applySecurityHeaders (res: ServerResponse): void {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v)
}
