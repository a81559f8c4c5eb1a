import express, { Router, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { SandboxConfig } from '../config.js';
import { htmlEscape as e, pageStyle } from '../delivery.js';
import { TMONEY_PAYIN_SCENARIOS, TMONEY_PAYOUT_SCENARIOS, tmoneyPayoutScenario } from './scenarios.js';
import { TmoneySandbox, type OnlineSession } from './tmoney.js';
import {
  ReportAdjustments,
  adjustmentRoutes,
  periodOf,
  streamLines,
  within,
  type ReportRow,
} from '../reports.js';

/**
 * TMoney's endpoints under `/tmoney/`: the online payment (`online/online.php`, GET for the
 * session, POST for the order form, then the payer's pages) and MBANKING v2 under
 * `mbanking/v2/`. Source: ../shared/reference/tmoney-flooz-cross-operator.md.
 */
function page(title: string, body: string): string {
  return `<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>TMoney Online (sandbox) — ${e(title)}</title>
<style>${pageStyle}</style></head><body><div class="card">${body}<p class="muted">Sandbox Passerelle — TMoney Online</p></div></body></html>`;
}

function orderHeader(s: OnlineSession): string {
  const o = s.order!;
  return `<h1>${e(o.brand)}</h1>${o.text ? `<p id="text">${e(o.text)}</p>` : ''}${o.description ? `<p>${e(o.description)}</p>` : ''}<p class="amount">${o.amount.toLocaleString('fr-FR')} F CFA</p>`;
}

/** After the payment: back to the merchant (accept, decline or cancel URL), or a page saying it. */
function backToMerchant(res: Response, s: OnlineSession, which: 'accept' | 'decline' | 'cancel'): void {
  const o = s.order!;
  const url = which === 'accept' ? o.accepturl : which === 'decline' ? o.declineurl : o.cancelurl;
  if (url) return res.redirect(303, url);
  res.type('html').send(page('Résultat', `<p id="status">${e(s.outcome ?? 'en cours')}</p>`));
}

const orderForm = z.object({
  sessionid: z.string().min(1),
  merchantid: z.string().regex(/^\d{16}$/),
  amount: z.string().regex(/^\d{3,10}$/),
  currency: z.literal('952'),
  purchaseref: z.string().min(1).max(250),
  phonennumber: z.string().min(8).max(16).optional(),
  brand: z.string().min(1).max(150),
  // "texte brut (pas de HTML)".
  description: z
    .string()
    .max(255)
    .refine((d) => !/[<>]/.test(d), 'plain text only (no HTML)')
    .optional(),
  accepturl: z.string().max(150).optional(),
  declineurl: z.string().max(150).optional(),
  cancelurl: z.string().max(150).optional(),
  text: z.string().max(250).optional(),
  // "Les valeurs possibles aujourd'hui sont limitées à fr (français), en (anglais)".
  language: z.enum(['fr', 'en']).optional(),
});

const mbankingV1Credit = z
  .object({
    agentid: z.string().min(1).optional(),
    merchantid: z.string().min(1).optional(),
    password: z.string().min(1),
    client: z.string().regex(/^\d{8,15}$/),
    amount: z.coerce.number().int().positive(),
    currency: z.literal('952'),
    trxcode: z.string().min(1),
    type: z.string().optional(),
    description: z.string().max(255).optional(),
    referenceid: z.string().min(1),
    sms: z.string().optional(),
    email: z.string().optional(),
  })
  .refine((q) => q.agentid ?? q.merchantid, { message: 'merchantid or agentid', path: ['agentid'] });

const mbankingOrder = z.object({
  idrequete: z.string().min(1),
  numeroClient: z.string().regex(/^\d{8,15}$/),
  montant: z.number().int().positive(),
  refCommande: z.string().min(1),
  dateheureRequete: z.string().min(1),
  description: z.string().optional(),
});

export function tmoneySandbox(
  config: SandboxConfig,
  logger: Logger,
): { router: Router; state: TmoneySandbox; index: Record<string, string> } {
  const tmoney = new TmoneySandbox(config, logger);
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '20kb' });
  const json = express.json({ limit: '20kb', type: () => true });
  const base = `${config.SANDBOX_PUBLIC_URL}/tmoney/online`;

  // Session id: "OK:<id>" or "NOK:<reason>", plain text.
  router.get('/online/online.php', (req, res) => {
    res.type('text/plain');
    if (tmoney.sessionFailures > 0) {
      tmoney.sessionFailures--;
      return void res.status(500).send('Internal Server Error');
    }
    if (tmoney.down) return void res.send('NOK:SERVICE_UNAVAILABLE');
    if (req.query.merchantid !== config.SANDBOX_TMONEY_MERCHANT_ID)
      return void res.send('NOK:UNKNOWN_MERCHANT');
    res.send(`OK:${tmoney.openSession().id}`);
  });

  // The order form, posted by the payer's browser.
  router.post('/online/online.php', form, (req, res) => {
    const parsed = orderForm.safeParse(req.body);
    if (!parsed.success) {
      return void res
        .status(400)
        .type('html')
        .send(
          page(
            'Erreur',
            `<p class="error">Formulaire invalide : ${e(parsed.error.issues.map((i) => i.path.join('.')).join(', '))}</p>`,
          ),
        );
    }
    const f = parsed.data;
    const session = tmoney.liveSession(f.sessionid);
    if (!session || f.merchantid !== config.SANDBOX_TMONEY_MERCHANT_ID) {
      return void res
        .status(400)
        .type('html')
        .send(page('Session', '<p class="error">Session inconnue ou expirée.</p>'));
    }
    tmoney.startOrder(session, {
      amount: Number(f.amount),
      currency: f.currency,
      purchaseref: f.purchaseref,
      phone: f.phonennumber,
      brand: f.brand,
      description: f.description,
      text: f.text,
      language: f.language,
      accepturl: f.accepturl,
      declineurl: f.declineurl,
      cancelurl: f.cancelurl,
    });
    res.type('html').send(
      page(
        'Paiement',
        `${orderHeader(session)}
<form method="post" action="${e(`${base}/pay/${session.id}`)}">
<p><label>Numéro TMoney <input name="phone" value="${e(f.phonennumber ?? '')}" ${f.phonennumber ? 'readonly' : ''}></label></p>
<p><label>Code PIN <input name="pin" type="password" inputmode="numeric"></label></p>
<button class="pay" name="action" value="pay">Payer</button><button name="action" value="cancel">Annuler</button>
</form>`,
      ),
    );
  });

  router.post('/online/pay/:session', form, (req, res) => {
    const session = tmoney.liveSession(req.params.session);
    if (!session?.order)
      return void res.status(400).type('html').send(page('Session', '<p class="error">Session expirée.</p>'));
    const body = req.body as { action?: string; phone?: string; pin?: string };
    if (body.action === 'cancel') {
      tmoney.cancel(session);
      return backToMerchant(res, session, 'cancel');
    }
    const checked = tmoney.checkPin(session, body.phone ?? '', body.pin ?? '');
    if (checked === 'blocked') return backToMerchant(res, session, 'decline');
    if (checked === 'retry') {
      return void res.type('html').send(
        page(
          'Paiement',
          `${orderHeader(session)}<p class="error" id="pin-error">Numéro ou code PIN erroné (essai ${session.pinTries}/3).</p>
<form method="post" action="${e(`${base}/pay/${session.id}`)}">
<p><label>Numéro TMoney <input name="phone" value="${e(body.phone ?? '')}"></label></p>
<p><label>Code PIN <input name="pin" type="password"></label></p>
<button class="pay" name="action" value="pay">Payer</button><button name="action" value="cancel">Annuler</button></form>`,
        ),
      );
    }
    res.type('html').send(
      page(
        'Authentification',
        `${orderHeader(session)}<p>Un code vous a été envoyé par SMS.</p>
<form method="post" action="${e(`${base}/otp/${session.id}`)}">
<p><label>Code SMS <input name="code" inputmode="numeric"></label></p><button class="pay">Valider</button></form>`,
      ),
    );
  });

  router.post('/online/otp/:session', form, (req, res) => {
    const session = tmoney.liveSession(req.params.session);
    if (!session?.order)
      return void res.status(400).type('html').send(page('Session', '<p class="error">Session expirée.</p>'));
    const outcome = tmoney.submitSmsCode(session, (req.body as { code?: string }).code ?? '');
    if (outcome === 'OK') {
      return void res.type('html').send(
        page(
          'Confirmation',
          `${orderHeader(session)}<p id="status">Paiement effectué.</p>
<form method="post" action="${e(`${base}/confirm/${session.id}`)}"><button class="pay">Confirmer</button></form>`,
        ),
      );
    }
    if (outcome === 'pending')
      return void res
        .type('html')
        .send(page('En cours', `${orderHeader(session)}<p>Traitement en cours…</p>`));
    backToMerchant(res, session, outcome === 'CANCEL' ? 'cancel' : 'decline');
  });

  router.post('/online/confirm/:session', (req, res) => {
    const session = tmoney.sessions.get(req.params.session);
    if (!session?.order) return void res.status(404).send('session inconnue');
    backToMerchant(res, session, 'accept');
  });

  // MBANKING v2.
  router.post('/mbanking/v2/auth/token', json, (req, res) => {
    const body = req.body as { username?: string; password?: string };
    const token = tmoney.issueToken(String(body.username ?? ''), String(body.password ?? ''));
    if (!token) return void res.status(401).json({ code: '401', message: 'Identifiants invalides' });
    res.json(token);
  });
  const authorised = (req: express.Request, res: Response): boolean => {
    if (tmoney.down) {
      res.status(200).json({ code: '503', message: 'Service indisponible' });
      return false;
    }
    if (!tmoney.tokenValid(req.header('authorization'))) {
      res.status(401).json({ code: '401', message: 'Jeton invalide ou expiré' });
      return false;
    }
    return true;
  };

  router.post('/mbanking/v2/debit', json, (req, res) => {
    if (!authorised(req, res)) return;
    const parsed = mbankingOrder.safeParse(req.body);
    if (!parsed.success)
      return void res.json({
        code: '400',
        message: `Paramètres invalides: ${parsed.error.issues[0]?.path.join('.') ?? ''}`,
      });
    if (tmoney.findTransaction(parsed.data.refCommande))
      return void res.json({ code: '409', message: 'refCommande déjà utilisée' });
    if (parsed.data.montant === TMONEY_PAYIN_SCENARIOS.server_error.amount)
      return void res.status(500).send('Internal error');
    const tx = tmoney.debit(parsed.data);
    res.json({ code: '0', message: 'Demande envoyée au client (USSD)', refTmoney: tx.refTmoney });
  });

  // MBANKING credit v1 ("ancienne version"): a GET with the agent's id and password in the
  // query; the answer echoes the request with `result` ("0": accepted) and `transactionid`.
  router.get('/mbanking/v1/credit', async (req, res) => {
    const q = mbankingV1Credit.safeParse(req.query);
    const echo = (result: string, message: string, transactionid?: string) =>
      res.json({
        agentid: typeof req.query.agentid === 'string' ? req.query.agentid : undefined,
        client: q.success ? q.data.client : undefined,
        amount: q.success ? String(q.data.amount) : undefined,
        currency: '952',
        referenceid: q.success ? q.data.referenceid : undefined,
        result,
        message,
        ...(transactionid ? { transactionid } : {}),
      });
    if (!q.success)
      return void echo('400', `Paramètres invalides: ${q.error.issues[0]?.path.join('.') ?? ''}`);
    const { agentid, merchantid, password, client, amount, referenceid, description } = q.data;
    if (
      (agentid ?? merchantid) !== config.SANDBOX_TMONEY_V1_AGENT_ID ||
      password !== config.SANDBOX_TMONEY_V1_PASSWORD
    )
      return void echo('401', 'Identifiants invalides');
    if (tmoney.findTransaction(referenceid)) return void echo('409', 'referenceid déjà utilisée');
    if (client.endsWith('000021')) return void echo('410', 'Client inconnu');
    const scenario = tmoneyPayoutScenario(amount);
    if (scenario === 'balance_low' || tmoney.partnerBalance < amount)
      return void echo('402', 'Solde partenaire insuffisant');
    const tx = tmoney.credit({
      idrequete: referenceid,
      numeroClient: client,
      montant: amount,
      refCommande: referenceid,
      ...(description ? { description } : {}),
    });
    tx.version = 'v1';
    if (scenario === 'ambiguous_5xx') return void res.status(502).send('Bad Gateway');
    if (scenario === 'ambiguous_timeout')
      await new Promise((r) => setTimeout(r, config.SANDBOX_AMBIGUOUS_DELAY_MS));
    echo('0', 'Crédit enregistré', tx.refTmoney);
  });

  router.post('/mbanking/v2/credit', json, async (req, res) => {
    if (!authorised(req, res)) return;
    const parsed = mbankingOrder.safeParse(req.body);
    if (!parsed.success)
      return void res.json({
        code: '400',
        message: `Paramètres invalides: ${parsed.error.issues[0]?.path.join('.') ?? ''}`,
      });
    const order = parsed.data;
    if (tmoney.findTransaction(order.refCommande))
      return void res.json({ code: '409', message: 'refCommande déjà utilisée' });
    if (order.numeroClient.endsWith('000021'))
      return void res.json({ code: '410', message: 'Client inconnu' });
    const scenario = tmoneyPayoutScenario(order.montant);
    if (scenario === 'balance_low' || tmoney.partnerBalance < order.montant) {
      return void res.json({ code: '402', message: 'Solde partenaire insuffisant' });
    }
    const tx = tmoney.credit(order);
    if (scenario === 'ambiguous_5xx') return void res.status(502).send('Bad Gateway');
    if (scenario === 'ambiguous_timeout')
      await new Promise((r) => setTimeout(r, config.SANDBOX_AMBIGUOUS_DELAY_MS));
    // The document's v2 output list ends in a field it cuts off ("da…"): the sandbox sends a
    // `date`, and the adapter keeps every field of the answer as it came (the event's raw data).
    res.json({
      code: '0',
      message: 'Crédit enregistré',
      refTmoney: tx.refTmoney,
      date: new Date().toISOString(),
    });
  });

  router.post('/mbanking/v2/check-transaction', json, (req, res) => {
    if (!authorised(req, res)) return;
    const given = (req.body as { refCommande?: unknown }).refCommande;
    const ref = typeof given === 'string' ? given : '';
    const tx = tmoney.findTransaction(ref);
    if (!tx) return void res.json({ code: '404', message: 'Transaction introuvable' });
    res.json({
      code: '0',
      message: 'OK',
      refTmoney: tx.refTmoney,
      statut: tx.statut,
      montant: String(tx.montant),
    });
  });

  // The day's transactions, as the back office exports them (CSV).
  const adjustments = new ReportAdjustments();
  router.use(adjustmentRoutes(adjustments));
  router.get('/online/reports.php', async (req, res) => {
    if (req.query.merchantid !== config.SANDBOX_TMONEY_MERCHANT_ID)
      return void res.status(403).type('text/plain').send('NOK:UNKNOWN_MERCHANT');
    const period = periodOf(req.query);
    if (!period)
      return void res.status(400).type('text/plain').send('date=YYYY-MM-DD, or from=…&to=… (ISO 8601)');
    const online: ReportRow[] = [...tmoney.sessions.values()]
      .filter((s) => s.order && s.outcome && within(period, s.createdAt))
      .map((s) => ({
        date: new Date(s.createdAt).toISOString(),
        reference: s.order!.purchaseref,
        operatorReference: s.payid,
        kind: 'payin' as const,
        amount: s.scenario === 'wrong_amount' ? s.order!.amount - 1 : s.order!.amount,
        status: s.outcome === 'OK' ? 'OK' : 'NOK',
      }));
    const mbanking: ReportRow[] = [...tmoney.transactions.values()]
      .filter((t) => within(period, t.createdAt))
      .map((t) => ({
        date: t.createdAt,
        reference: t.refCommande,
        operatorReference: t.refTmoney,
        kind: t.kind === 'credit' ? ('payout' as const) : ('payin' as const),
        amount: t.montant,
        status: t.statut,
      }));
    const types = new Map<string, string>([...online.map((r) => [r.reference, 'ONLINE'] as const)]);
    for (const t of tmoney.transactions.values())
      types.set(t.refCommande, t.kind === 'credit' ? 'CREDIT' : 'DEBIT');
    const lines = adjustments
      .apply([...online, ...mbanking], period.label, 'SUCCES')
      .map((r) =>
        [
          r.date.replace('T', ' ').slice(0, 19),
          r.operatorReference,
          r.reference,
          types.get(r.reference) ?? (r.kind === 'payout' ? 'CREDIT' : 'DEBIT'),
          r.amount,
          '952',
          r.status,
        ].join(','),
      );
    await streamLines(res, 'text/csv', ['timestamp,payid,purchaseref,type,amount,currency,status', ...lines]);
  });

  // Control endpoints (not TMoney's API).
  router.get('/_sandbox/scenarios', (_req, res) => {
    res.json({ payins: TMONEY_PAYIN_SCENARIOS, payouts: TMONEY_PAYOUT_SCENARIOS });
  });
  router.get('/_sandbox/sessions', (req, res) => {
    const ref = typeof req.query.purchaseref === 'string' ? req.query.purchaseref : undefined;
    res.json(ref ? tmoney.findByPurchaseref(ref) : [...tmoney.sessions.values()]);
  });
  router.get('/_sandbox/sms/:session', (req, res) => {
    const s = tmoney.sessions.get(req.params.session);
    if (!s?.smsCode) return void res.status(404).json({ error: 'no SMS sent for this session' });
    res.json({ code: s.smsCode });
  });
  router.post('/_sandbox/sessions/:purchaseref/:action', json, (req, res) => {
    const s = tmoney.findByPurchaseref(req.params.purchaseref).find((x) => x.status === 'open');
    if (!s) return void res.status(404).json({ error: 'no open session for this purchaseref' });
    const phone = (req.body as { phone?: unknown } | undefined)?.phone;
    if (req.params.action === 'pay') tmoney.pay(s, typeof phone === 'string' ? phone : undefined);
    else if (req.params.action === 'cancel') tmoney.cancel(s);
    else if (req.params.action === 'expire') tmoney.expire(s);
    else return void res.status(404).json({ error: 'actions: pay, cancel, expire' });
    res.json(s);
  });
  router.get('/_sandbox/transactions', (req, res) => {
    const ref = typeof req.query.ref === 'string' ? req.query.ref : undefined;
    const all = [...tmoney.transactions.values()];
    res.json(ref ? all.filter((t) => t.refCommande === ref) : all);
  });
  router.post('/_sandbox/transactions/:ref/complete', (req, res) => {
    const tx = tmoney.findTransaction(req.params.ref);
    if (!tx) return void res.status(404).json({ error: 'unknown refCommande' });
    tmoney.completeTransaction(tx);
    res.json(tx);
  });
  router.get('/_sandbox/tokens', (_req, res) => {
    res.json({ issued: tmoney.tokensIssued });
  });
  router.post('/_sandbox/revoke-tokens', (_req, res) => {
    tmoney.revokeTokens();
    res.json({ revoked: true });
  });
  // The next N session requests answer HTTP 500 (the session call carries no amount, so no
  // magic amount can pick this).
  router.get('/_sandbox/session-failures', (_req, res) => {
    res.json({ session_failures: tmoney.sessionFailures });
  });
  router.post('/_sandbox/session-failures', json, (req, res) => {
    const count = Number((req.body as { count?: unknown }).count ?? 1);
    tmoney.sessionFailures = Number.isInteger(count) && count >= 0 ? Math.min(count, 100) : 1;
    res.json({ session_failures: tmoney.sessionFailures });
  });
  router.post('/_sandbox/outage', json, (req, res) => {
    tmoney.down = Boolean((req.body as { down?: unknown }).down);
    res.json({ down: tmoney.down });
  });
  return {
    router,
    state: tmoney,
    index: {
      online: `${base}/online.php`,
      mbanking: `${config.SANDBOX_PUBLIC_URL}/tmoney/mbanking/v2/`,
      scenarios: `${config.SANDBOX_PUBLIC_URL}/tmoney/_sandbox/scenarios`,
    },
  };
}
