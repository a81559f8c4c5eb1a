/**
 * A merchant's colour on the payer's pages, kept readable: the text on it is black or white,
 * whichever contrasts more (WCAG 2 relative luminance), and a colour too light to be read on white
 * is refused when set.
 */

function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
}

export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** The text colour on a button of this colour. */
export function textOn(color: string): '#ffffff' | '#000000' {
  return contrastRatio(color, '#ffffff') >= contrastRatio(color, '#000000') ? '#ffffff' : '#000000';
}

export const BRAND_COLOR = /^#[0-9a-f]{6}$/;

/** Why a colour cannot be a checkout's, or undefined: it must show on white (the page's links and borders). */
export function brandColorProblem(color: string): string | undefined {
  if (!BRAND_COLOR.test(color)) return 'a colour is #rrggbb, lowercase';
  if (contrastRatio(color, '#ffffff') < 3)
    return `${color} is too light to read on white (contrast below 3:1)`;
  return undefined;
}

/** The image types a logo may have, from its first bytes (never from a name or a header). */
export function logoType(bytes: Buffer): 'image/png' | 'image/jpeg' | 'image/webp' | undefined {
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (
    bytes.subarray(0, 4).toString('latin1') === 'RIFF' &&
    bytes.subarray(8, 12).toString('latin1') === 'WEBP'
  )
    return 'image/webp';
  return undefined;
}
