// The part of the `qrcode` package (no bundled types) that the app uses: SVG rendering.
declare module 'qrcode' {
  export interface QRCodeToStringOptions {
    type?: 'svg' | 'utf8' | 'terminal'
    errorCorrectionLevel?: 'L' | 'M' | 'Q' | 'H'
    /** Quiet zone, in modules. */
    margin?: number
    width?: number
    color?: { dark?: string, light?: string }
  }
  export function toString (text: string, options?: QRCodeToStringOptions): Promise<string>
  const QRCode: { toString: typeof toString }
  export default QRCode
}
