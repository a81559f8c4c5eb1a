import { api, eventually, type PayinBody, type StackOptions, type TestStack } from './stack.js';

/**
 * What the Togo operators' tests share (TMoney, PayGateGlobal, routing between them): short
 * deadlines, the payer's numbers, and helpers to create a payin and follow the payer's pages.
 */
export const TOGO_STACK: StackOptions = {
  env: {
    TMONEY_SESSION_SECONDS: '5',
    TMONEY_NOTIFICATION_GRACE_SECONDS: '2',
    TMONEY_PAYIN_DEADLINE_SECONDS: '8',
    PAYGATE_PAYIN_DEADLINE_SECONDS: '8',
  },
  sandboxEnv: { SANDBOX_TMONEY_SESSION_SECONDS: '5' },
};

export type FormPost = {
  type: 'form_post';
  url: string;
  fields: Record<string, string>;
  redirect_url: string;
};
export type Problem = { type: string; code?: string };

export const TOGOCEL = '+22890112233';
export const MOOV = '+22897112233';

export function hiddenFields(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    out[m[1]!] = m[2]!
      .replace(/&amp;/g, '&')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>');
  }
  return out;
}

export async function postForm(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

export function actionOf(html: string): string {
  return /<form method="post" action="([^"]+)"/.exec(html)![1]!.replace(/&amp;/g, '&');
}

/** Payins on the stack a test file started (read when called: the stack starts in beforeAll). */
export function togoPayins(stack: () => TestStack) {
  function createPayin(body: Record<string, unknown>, key = stack().merchant.apiKey) {
    return api<PayinBody & Problem>(stack(), 'POST', '/v1/payins', {
      key,
      body: { currency: 'XOF', description: 'Commande Lomé', ...body },
    });
  }

  async function payinEnds(id: string, key = stack().merchant.apiKey): Promise<PayinBody> {
    return eventually(
      `payin ${id} final`,
      async () => {
        const res = await api<PayinBody>(stack(), 'GET', `/v1/payins/${id}`, { key });
        return ['succeeded', 'failed', 'cancelled', 'expired', 'unknown'].includes(res.body.status)
          ? res.body
          : undefined;
      },
      30_000,
    );
  }

  return { createPayin, payinEnds };
}
